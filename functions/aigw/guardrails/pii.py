"""PII: email, phone, credit_card, iban, us_ssn, ip_address, validated so look-alikes pass.

A regex finds candidates; a check decides: Luhn and issuer prefixes for cards, the ISO 13616
length and mod-97 checksum for IBANs, the SSA's area/group/serial rules for SSNs, octet
ranges (and no version-string context) for IPv4, `ipaddress` for IPv6, and digit counts,
grouping and a date test for phones. So an order number, a version string, a UUID, a hash or
a date is not a match.

Speed (docs/DESIGN.md §4: this runs on every request): a regex whose first item is a character
class costs ~10 ns per character in CPython, so each entity is located by the cheapest
means (a `str.find` for '@', a translated copy for IBAN shapes, one digit-run regex for the
numeric kinds) and the precise patterns run only on the few short candidates. Every
quantifier is bounded or unambiguous: no pattern can backtrack catastrophically.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence

from aigw.guardrails.base import Finding, Source, Verdict, find_all, non_overlapping
from aigw.guardrails.config import PII_ENTITIES


@functools.cache
def _rx() -> dict[str, re.Pattern[str]]:
    """Compiled on first use, never at import."""
    return {
        "domain": re.compile(r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}"),
        "run": re.compile(r"\d[\d .()/-]{5,}\d"),  # unbounded: a value may start anywhere in a long run
        "ssn": re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])"),
        "card": re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])"),
        "ipv4": re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d])(?!\.\d)"),
        # E.164 written compactly, or groups each followed by one separator (no ambiguous splits)
        "phone": re.compile(r"(?<![\d])(?:\+\d{7,14}\d|(?:\+\s?\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?|\d{1,4}[ .-])"
                            r"(?:\d{1,5}[ .-]){0,4}\d{2,8})(?![\d])"),
        "iban": re.compile(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}"),
        "ipv6": re.compile(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"),
        "colon_pair": re.compile(r":[0-9A-Fa-f]{0,4}:"),
        "digits": re.compile(r"\d+"),
        "non_digit": re.compile(r"\D"),
        "version_before": re.compile(r"(?:\bv|\bversions?|\bver|\bbuild|\brelease|\bpython|\bnode|\bjava)\s*\.?\s*\Z",
                                     re.IGNORECASE),
    }


_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_WORDISH = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+@:-")
_NUMERIC = frozenset("0123456789 ()+./-")
_HEX_COLON = frozenset("0123456789abcdefABCDEF:")
# "icon@2x.png" is an asset name, not an address: these are file types, not top-level domains.
_FILE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "pdf", "css", "js", "mp3",
                              "mp4", "wav", "json", "yaml", "yml", "txt"})
_SHAPE = str.maketrans("BCDEFGHIJKLMNOPQRSTUVWXYZ123456789", "A" * 25 + "0" * 9)

# ISO 13616 lengths for the countries most often seen; another country's IBAN is not matched.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
    "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21,
    "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21,
    "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24,
    "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_issuer_ok(digits: str) -> bool:
    """Issuer prefixes and lengths (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay)."""
    n = len(digits)
    two, four, six = int(digits[:2]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4":
        return n in (13, 16, 19)
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return n == 16
    if two in (34, 37):
        return n == 15
    if four == 6011 or two == 65 or 644 <= four // 10 <= 649 or 622126 <= six <= 622925:
        return 16 <= n <= 19
    if 3528 <= four <= 3589:
        return 16 <= n <= 19
    if 300 <= four // 10 <= 305 or two in (36, 38, 39):
        return 14 <= n <= 19
    if two == 62:
        return 16 <= n <= 19
    return False


def iban_ok(compact: str) -> bool:
    if IBAN_LENGTHS.get(compact[:2]) != len(compact):
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def ssn_ok(area: str, group: str, serial: str) -> bool:
    a = int(area)
    if a == 0 or a == 666 or a >= 900 or group == "00" or serial == "0000":
        return False
    return f"{area}-{group}-{serial}" not in ("078-05-1120", "219-09-9999", "123-45-6789")


def _looks_like_date(groups: Sequence[str]) -> bool:
    if len(groups) < 3:
        return False
    a, b, c = (int(g) for g in groups[:3])
    la, lc = len(groups[0]), len(groups[2])
    if la == 4 and 1900 <= a <= 2099 and 1 <= b <= 12 and 1 <= c <= 31:
        return True  # 2024-01-15 (14:30)
    return lc == 4 and 1900 <= c <= 2099 and min(a, b) >= 1 and max(a, b) <= 31 and min(a, b) <= 12


def phone_ok(candidate: str) -> bool:
    groups = _rx()["digits"].findall(candidate)
    digits = "".join(groups)
    n = len(digits)
    if candidate.startswith("+"):
        return 8 <= n <= 15 and digits[0] != "0" and not _looks_like_date(groups)
    if len(groups) < 2 or _looks_like_date(groups):
        return False
    seps = {ch for ch in candidate if ch in ".-"}
    if len(seps) > 1:
        return False  # 12.34-56 mixes separators: not how numbers are written
    lens = [len(g) for g in groups]
    if n == 10 and digits[0] in "23456789" and lens in ([3, 3, 4], [3, 7]) and digits[3] in "23456789":
        return True  # NANP: (415) 555-2671, 415-555-2671
    if n == 11 and digits[0] == "1" and lens == [1, 3, 3, 4]:
        return True  # 1-415-555-2671
    # A national number with a trunk prefix: 020 7946 0958, 01 23 45 67 89, 030 1234567
    return 10 <= n <= 11 and digits[0] == "0" and digits[1] != "0" and all(g >= 2 for g in lens)


def ipv4_ok(candidate: str, before: str) -> bool:
    parts = candidate.split(".")
    if any(len(p) > 1 and p[0] == "0" for p in parts) or any(int(p) > 255 for p in parts):
        return False
    return _rx()["version_before"].search(before[-16:]) is None


def ipv6_ok(candidate: str) -> bool:
    groups = [g for g in candidate.split(":") if g]
    if len(groups) < 2 or not any(ch.isdigit() for ch in candidate):
        return False
    if "::" not in candidate and candidate.count(":") != 7:
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


class PiiDetector:
    kind = "pii"

    def __init__(self, entities: Iterable[str] = PII_ENTITIES) -> None:
        self.entities = frozenset(entities)
        unknown = self.entities - set(PII_ENTITIES)
        if unknown:
            raise ValueError(f"unknown PII entities: {sorted(unknown)}")
        self._numeric = bool(self.entities & {"phone", "credit_card", "us_ssn", "ip_address"})

    async def check(self, texts: Sequence[str], source: Source, meta: Mapping[str, str] | None = None) -> Verdict:
        return find_all(self, texts)

    def find(self, text: str) -> list[Finding]:
        found: list[Finding] = []
        if "email" in self.entities and "@" in text:
            found.extend(self._emails(text))
        ibans = list(self._ibans(text)) if "iban" in self.entities or self._numeric else []
        if "iban" in self.entities:
            found.extend(ibans)
        if self._numeric:
            found.extend(self._numbers(text, ibans))
        if "ip_address" in self.entities and ("::" in text or text.count(":") >= 7):
            found.extend(self._ipv6(text))
        return non_overlapping(found)

    # ---- locating ----------------------------------------------------------------------------
    def _emails(self, text: str) -> Iterable[Finding]:
        domain = _rx()["domain"]
        at = text.find("@")
        while at != -1:
            start = at
            while start > 0 and at - start < 64 and text[start - 1] in _LOCAL:
                start -= 1
            while start < at and text[start] == ".":
                start += 1
            m = domain.match(text, at + 1)
            if m and start < at and _domain_ok(m.group()) and ".." not in text[start:at]:
                end = m.end()
                while text[end - 1] in ".-":
                    end -= 1
                yield Finding("email", start, end)
            at = text.find("@", at + 1)

    def _ibans(self, text: str) -> Iterable[Finding]:
        shape = text.translate(_SHAPE)
        pos = shape.find("AA00")
        while pos != -1:
            if pos == 0 or not text[pos - 1].isalnum():
                m = _rx()["iban"].match(text, pos)
                if m:
                    finding = _iban_at(text, pos, m.group())
                    if finding is not None:
                        yield finding
            pos = shape.find("AA00", pos + 1)

    def _numbers(self, text: str, ibans: Sequence[Finding] = ()) -> Iterable[Finding]:
        rx = _rx()
        for run in rx["run"].finditer(text):
            start, end = run.span()
            # a run glued to a word (a hash, an identifier, "DE89..." of an IBAN) cannot start or
            # end a value there; its other groups still can
            glued_left = bool(start) and (text[start - 1].isalpha() or text[start - 1] == "_")
            glued_right = end < len(text) and (text[end].isalpha() or text[end] == "_")
            if glued_left:
                for iban in ibans:  # the run goes on past an IBAN: what follows it is free
                    if iban.start < start < iban.end:
                        start = iban.end
                        while start < end and not text[start].isdigit() and text[start] not in "(+":
                            start += 1
                        glued_left = False
                        break
                if start >= end:
                    continue
            lead = 0
            if start >= 1 and text[start - 1] == "(":
                lead = 1
            if start >= lead + 1 and text[start - lead - 1] == "+":
                lead += 1
            glue = text[max(0, start - 2):start]
            iban_like = glued_left and len(glue) == 2 and glue.isupper() and glue.isalpha()
            yield from self._classify(text, start - lead, text[start - lead:end], glued_left, glued_right, iban_like)

    def _classify(self, text: str, offset: int, run: str, glued_left: bool, glued_right: bool,
                  iban_like: bool = False) -> Iterable[Finding]:
        """Split a run of digits and separators into the longest valid values, left to right: a
        phone number next to a card number in one run yields both."""
        groups = [m.span() for m in _rx()["digits"].finditer(run)]
        if len(groups) < 2 and len(run) < 13 and not run.startswith("+"):
            return  # one short number: nothing here has that shape
        lens = [b - a for a, b in groups]
        sums = [0]
        for n in lens:
            sums.append(sums[-1] + n)
        i = 0
        while i < len(groups):
            best: tuple[str, int, int, int] | None = None
            plus = groups[i][0] >= 1 and "+" in run[max(0, groups[i][0] - 2):groups[i][0]]
            if glued_left:
                sep = run[groups[i - 1][1]:groups[i][0]] if i else ""
                if i == 0 or (iban_like and len(sep) == 1 and sep in " -."):
                    i += 1  # the glued token's digits; for "DE89 3704 0044 ..." its blocks too
                    continue
                glued_left = False
            for j in range(min(len(groups), i + 8) - 1, i - 1, -1):  # the longest candidate first
                if j == len(groups) - 1 and glued_right:
                    continue
                k, d = j - i + 1, sums[j + 1] - sums[i]
                # cheap shape test first: only a shape some entity can have is validated
                if not ((k == 3 and lens[i:j + 1] == [3, 2, 4]) or 13 <= d <= 19 or (k == 4 and d <= 12)
                        or d in (10, 11) or (plus and 8 <= d <= 15)):
                    continue
                start, end = groups[i][0], groups[j][1]
                if start and run[start - 1] == "(":
                    start -= 1
                if start and run[start - 1] == "+":
                    start -= 1
                if end < len(run) and run[end] == ")":
                    end += 1
                entity = self._entity(run, start, end, text[max(0, offset + start - 16):offset + start])
                if entity is not None:
                    best = (entity, start, end, j)
                    break
            if best is None:
                i += 1
                continue
            entity, start, end, j = best
            yield Finding(entity, offset + start, offset + end)
            i = j + 1

    def _entity(self, run: str, start: int, end: int, before: str) -> str | None:
        rx = _rx()
        candidate = run[start:end]
        if "us_ssn" in self.entities:
            m = rx["ssn"].fullmatch(candidate)
            if m and ssn_ok(m.group(1), m.group(3), m.group(4)):
                return "us_ssn"
        if "credit_card" in self.entities and rx["card"].fullmatch(candidate):
            digits = rx["non_digit"].sub("", candidate)
            if _card_grouping_ok(candidate) and card_issuer_ok(digits) and luhn_ok(digits):
                return "credit_card"
        if "ip_address" in self.entities and rx["ipv4"].fullmatch(candidate):
            dotted_on = run[end:end + 2]
            dotted_before = run[max(0, start - 2):start]
            more_on = len(dotted_on) == 2 and dotted_on[0] == "." and dotted_on[1].isdigit()
            more_before = len(dotted_before) == 2 and dotted_before[1] == "." and dotted_before[0].isdigit()
            if not more_on and not more_before and ipv4_ok(candidate, before):
                return "ip_address"
        if "phone" in self.entities and rx["phone"].fullmatch(candidate) and phone_ok(candidate):
            return "phone"
        return None

    def _ipv6(self, text: str) -> Iterable[Finding]:
        """Led by a literal ':' (fast to scan for), then widened to the whole hex-and-colon token."""
        rx = _rx()
        pos = 0
        n = len(text)
        while True:
            m = rx["colon_pair"].search(text, pos)
            if m is None:
                return
            start = m.start()
            while start > 0 and text[start - 1] in _HEX_COLON and m.start() - start < 40:
                start -= 1
            end = m.end()
            while end < n and text[end] in _HEX_COLON and end - start < 45:
                end += 1
            pos = max(end, m.start() + 1)
            if (start and (text[start - 1].isalnum() or text[start - 1] == "_")) or (
                    end < n and (text[end].isalnum() or text[end] == "_")):
                continue
            candidate = text[start:end]
            if rx["ipv6"].fullmatch(candidate) and ipv6_ok(candidate):
                yield Finding("ip_address", start, end)

    # ---- streams -----------------------------------------------------------------------------
    def hold(self, text: str, limit: int) -> int:
        """A trailing word could still become an email (or an IPv6/IBAN); a trailing number with
        separators could still become a phone, card, SSN or IPv4."""
        n = len(text)
        i = n
        while i > 0 and text[i - 1] in _WORDISH:
            i -= 1
        j = n
        if self._numeric or "iban" in self.entities:
            while j > 0 and text[j - 1] in _NUMERIC:
                j -= 1
            while j < n and text[j] not in "0123456789+(":
                j += 1
            if "iban" in self.entities and j >= 2 and text[j - 2:j].isalpha() and text[j - 2:j].isupper():
                j -= 2
        return max(min(i, j), n - limit)


def _domain_ok(domain: str) -> bool:
    labels = domain.rstrip(".-").split(".")
    tld = labels[-1]
    return len(labels) >= 2 and tld.isalpha() and 2 <= len(tld) <= 24 and tld.lower() not in _FILE_EXTENSIONS and all(
        lab and lab[0] != "-" for lab in labels)


def _card_grouping_ok(candidate: str) -> bool:
    seps = {ch for ch in candidate if not ch.isdigit()}
    if not seps:
        return True
    if len(seps) > 1:
        return False
    lens = [len(g) for g in re.split(r"[ -]", candidate)]
    return lens in ([4, 4, 4, 4], [4, 6, 5], [4, 6, 4], [4, 4, 4, 4, 3], [4, 4, 4, 1], [4, 4, 4, 2], [4, 4, 4, 3])


def _iban_at(text: str, pos: int, candidate: str) -> Finding | None:
    want = IBAN_LENGTHS.get(candidate[:2])
    if want is None:
        return None
    taken, end = 0, pos
    for ch in candidate:
        if taken == want:
            break
        end += 1
        if ch != " ":
            taken += 1
    if taken != want or (end < len(text) and text[end].isalnum()):
        return None
    compact = text[pos:end].replace(" ", "")
    return Finding("iban", pos, end) if iban_ok(compact) else None


