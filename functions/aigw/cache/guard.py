"""A lexical check on a semantic match: similar is not the same question.

Sentence embeddings score "Convert 5 miles to km" and "Convert 50 miles to km", or "enable
2FA" and "disable 2FA", at 0.97 and above - over any useful threshold - and "10 km to
miles" / "10 miles to km" at 0.998. So a semantic hit must also pass these rules, which
reject the swaps that change the answer while barely moving the vector:

  numbers       the numbers (and roman numerals) in both prompts are the same
  negation      both or neither say not / no / never / n't / without
  contrasts     when both use words from closed sets of opposites (enable/disable,
                plus/times, yesterday/tomorrow, ascending/descending, ...), the same ones
  entities      no named thing (a word with a capital, past the first) swapped for another
  one swap      the content words are not the same but for one word each side
  word order    the same words in a different order is a different question

Misses are cheap (one upstream call); a wrong answer is not. The figures on the labelled
set in tests/unit/cache/semantic_pairs.py are printed by
`pytest tests/unit/cache/test_semantic_precision.py -s`.
"""

from __future__ import annotations

import re


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_TOKEN = re.compile(r"[0-9]+(?:[.,][0-9]+)*|[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
_ROMAN = re.compile(r"^(?=[ivxlcdm]+$)m{0,3}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")
_NEGATIONS = frozenset({"not", "no", "never", "without", "nothing", "none", "nobody", "nowhere", "cannot"})
_CONTRASTS = _wordset("""
enable disable enabled disabled true false ascending descending increase decrease increasing decreasing
horizontal horizontally vertical vertically before after yesterday today tomorrow past future plus minus
times divided multiply multiplied subtract minimum maximum min max install uninstall upload download
import export encrypt decrypt compress decompress buy sell boiling freezing hot cold north south east west
input output inbound outbound allow deny accept reject include exclude lock unlock show hide connect
disconnect start stop open close left right top bottom upper lower
""")
_STOPWORDS = _wordset("""
a an the is are was were be been being am do does did doing have has had having i me my you your we our
they their he she it its this that these those of to in on at by for with about from into over under as
and or but if so than then there here what which who whom whose when where why how can could would should
will shall may might must please tell give explain show me some any all each every just also very really
s 's ' ll re ve d m t
""")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _numbers(raw: list[str]) -> set[str]:
    """Numbers, and roman numerals of two letters or more in capitals (World War II; not "I")."""
    return {w.replace(",", "") for w in raw if w[0].isdigit()} | {
        w for w in raw if len(w) > 1 and w.isupper() and _ROMAN.match(w.lower())}


def _negated(words: list[str]) -> bool:
    return any(w in _NEGATIONS or w.endswith("n't") for w in words)


def _entities(raw: list[str]) -> set[str]:
    return {w.lower() for w in raw[1:] if any(c.isupper() for c in w)}


def _content(words: list[str]) -> set[str]:
    return {_stem(w) for w in words if w not in _STOPWORDS and not w[0].isdigit()}


def _same_stem(a: str, b: str) -> bool:
    """dict / dictionary, summary / summarize: one word a prefix of the other, or a shared 5-letter start."""
    short, long = sorted((a, b), key=len)
    return (len(short) >= 4 and long.startswith(short)) or (len(short) >= 6 and short[:5] == long[:5])


def same_question(a: str, b: str) -> str | None:
    """None when `b` may share `a`'s answer; else the rule that says it does not."""
    raw_a, raw_b = tokens(a), tokens(b)
    words_a, words_b = [w.lower() for w in raw_a], [w.lower() for w in raw_b]
    if words_a == words_b:
        return None
    if _numbers(raw_a) != _numbers(raw_b):
        return "numbers"
    if _negated(words_a) != _negated(words_b):
        return "negation"
    contrasts_a, contrasts_b = {w for w in words_a if w in _CONTRASTS}, {w for w in words_b if w in _CONTRASTS}
    if contrasts_a and contrasts_b and contrasts_a != contrasts_b:
        return "contrasts"
    entities_a, entities_b = _entities(raw_a), _entities(raw_b)
    lower_a, lower_b = set(words_a), set(words_b)
    if (entities_a - lower_b) and (entities_b - lower_a):
        return "entities"
    content_a, content_b = _content(words_a), _content(words_b)
    only_a, only_b = content_a - content_b, content_b - content_a
    if len(only_a) == 1 and len(only_b) == 1 and content_a & content_b and not _same_stem(*only_a, *only_b):
        return "one swap"
    if sorted(words_a) == sorted(words_b):
        return "word order"
    return None
