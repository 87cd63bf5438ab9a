"""Tokenizer families: how far a provider's count of a prompt can be above tiktoken's.

tiktoken is OpenAI's own tokenizer, so it is exact only for OpenAI's models. Every other
family counts the same text with its own vocabulary, and a budget reservation built on an
unadjusted tiktoken count is not an upper bound of what the provider bills (docs/DESIGN.md
§8). Each family therefore has:

    factor       the most its tokenizer is expected to count per tiktoken token of text
    per_message  chat-template tokens per message beyond the 3 OpenAI's recipe counts
    per_request  tokens added once per request (begin-of-text, a generation header, ...)
    tool_prompt  tokens the provider adds to the system prompt when tools are offered
    images       the provider's published rule for an image (aigw/tokens/images.py)

The reasoning behind each number (ratios are to cl100k_base on English prose and code; the
same table, in the README, is the documented contract):

    openai     1.00  tiktoken *is* the tokenizer (o200k for GPT-4o/4.1/5 and the o-series,
                     cl100k before them): exact.
    anthropic  1.40  Claude's tokenizer is not public; its counts run 1.20-1.35x cl100k on
                     English, more on code and non-Latin scripts: the top of that range plus
                     headroom. Tools add a documented tool-use system prompt (159-530 tokens).
    gemini     1.30  SentencePiece with a 256k vocabulary (the open Gemma models share it):
                     close to cl100k on English, finer on code and whitespace runs; no
                     published ratio, so the default.
    llama3     1.10  Llama 3/4 use a tiktoken vocabulary (cl100k's 100k tokens plus 28k more):
                     never coarser than cl100k on English; 1.10 covers its own pre-tokenizer
                     split and the chat template's header tokens.
    llama      1.30  Llama 2 and older: SentencePiece with 32k tokens, about 1.2-1.3x cl100k.
    mistral    1.30  Tekken (tiktoken-based, 131k) for NeMo, Large 2407+, Small 3+, Pixtral;
                     SentencePiece 32k (about 1.2-1.3x) for older models. Model ids do not
                     say which, so the larger.
    cohere     1.30  Command models: BPE with a 255k multilingual vocabulary; no published
                     ratio, so the default.
    amazon     1.30  Titan and Nova tokenizers are not published: the default.
    default    1.30  any other model (e.g. behind an `openai-compatible` server): covers
                     tokenizers counting up to 1.3x tiktoken, plus 5 framing tokens per message
                     and 10 per request, from the very first burst of requests.

Beyond the table the gateway learns: per deployment it keeps the largest billed/estimated
ratio it has seen and reserves with the larger of the two (budgets/bounds.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from aigw.tokens.images import (
    ImageRef,
    anthropic_image_tokens,
    gemini_image_tokens,
    generic_image_tokens,
    openai_image_tokens,
)

ImageRule = Callable[[ImageRef, str], int]


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    factor: float
    exact: bool = False
    per_message: int = 5
    per_request: int = 10
    images: ImageRule = generic_image_tokens
    tool_prompt: Callable[[str], int] = lambda model: 0

    def text_bound(self, text_tokens: int, messages: int) -> int:
        """The most this family is expected to count for text tiktoken counts as `text_tokens`."""
        framing = 0 if self.exact else self.per_message * messages + self.per_request
        return math.ceil(text_tokens * self.factor) + framing


def _claude_tool_prompt(model: str) -> int:
    """Anthropic's documented tool-use system prompt, per model (the larger of the `auto`/`none`
    and `any`/`tool` figures in the tool-use pricing table)."""
    m = model.lower()
    if "claude-3-opus" in m:
        return 530
    if "haiku" in m and ("claude-3" in m or "3-5" in m):
        return 340
    if "claude-3-sonnet" in m:
        return 235
    return 346  # Claude 3.5 Sonnet and later (Sonnet 3.7, 4, 4.5; Opus 4.x; Haiku 4.5)


OPENAI = Family("openai", 1.0, exact=True, per_message=0, per_request=0, images=openai_image_tokens)
MOCK = Family("mock", 1.0, exact=True, per_message=0, per_request=0, images=openai_image_tokens)
# gpt-oss speaks the "harmony" format: o200k tokens, plus a system header (date, reasoning level).
OPENAI_OPEN = Family("openai-open", 1.0, per_message=5, per_request=40, images=openai_image_tokens)
ANTHROPIC = Family("anthropic", 1.40, images=anthropic_image_tokens, tool_prompt=_claude_tool_prompt)
GEMINI = Family("gemini", 1.30, images=gemini_image_tokens)
LLAMA3 = Family("llama3", 1.10)
LLAMA = Family("llama", 1.30)
MISTRAL = Family("mistral", 1.30)
COHERE = Family("cohere", 1.30)
AMAZON = Family("amazon", 1.30)
DEFAULT = Family("default", 1.30)
FAMILIES: tuple[Family, ...] = (OPENAI, OPENAI_OPEN, ANTHROPIC, GEMINI, LLAMA3, LLAMA, MISTRAL, COHERE, AMAZON,
                                DEFAULT)

# Model-id patterns, first match wins (ids lower-cased, Bedrock region prefixes kept: the
# patterns do not anchor at the start).
_PATTERNS: tuple[tuple[re.Pattern[str], Family], ...] = tuple((re.compile(p), f) for p, f in (
    (r"gpt-oss", OPENAI_OPEN),
    (r"claude", ANTHROPIC),
    (r"gemini|gemma", GEMINI),
    (r"llama[-_.]?[34]|llama3|llama4", LLAMA3),
    (r"llama", LLAMA),
    (r"mistral|mixtral|codestral|ministral|magistral|devstral|pixtral", MISTRAL),
    (r"cohere|command|c4ai|aya", COHERE),
    (r"(^|[./])amazon\.|titan|nova-", AMAZON),
    (r"(^|[/])(gpt-|o1|o3|o4|chatgpt|text-embedding-|davinci|babbage|omni-moderation)", OPENAI),
))
_BY_PROVIDER: dict[str, Family] = {"openai": OPENAI, "azure": OPENAI, "anthropic": ANTHROPIC, "gemini": GEMINI,
                                   "mock": MOCK}


def family_for(provider: str, model: str) -> Family:
    """The tokenizer family of an upstream model. OpenAI, Azure and the mock trust the
    provider (Azure deployment names are the platform's own); others go by the model id."""
    if provider in ("openai", "azure", "mock"):
        return _BY_PROVIDER[provider]
    m = model.lower()
    for pattern, family in _PATTERNS:
        if pattern.search(m):
            return family
    return _BY_PROVIDER.get(provider, DEFAULT)
