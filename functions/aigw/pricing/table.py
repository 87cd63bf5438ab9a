"""The built-in price table: USD per 1M tokens (input, output, cached input, cache write).

Prices as published by each provider for on-demand, standard-tier use (checked 2026-11).
Platform teams override any entry with `price:` in the config. Lookup is by upstream model
id: exact first, then the longest table key that prefixes the id at a separator, so dated
snapshots (`gpt-4o-mini-2024-07-18`, `claude-3-5-haiku-20241022`) price as their family.
Bedrock cross-region prefixes (`us.`, `eu.`, `apac.`, `global.`) and Gemini's `models/`
are ignored.
"""

from __future__ import annotations

from aigw.pricing.cost import Price

_Row = tuple[float, float, float | None, float | None]

_TABLE: dict[str, _Row] = {
    # ---- OpenAI --------------------------------------------------------------------------
    "gpt-5": (1.25, 10.0, 0.125, None),
    "gpt-5-mini": (0.25, 2.0, 0.025, None),
    "gpt-5-nano": (0.05, 0.40, 0.005, None),
    "gpt-4.1": (2.0, 8.0, 0.50, None),
    "gpt-4.1-mini": (0.40, 1.60, 0.10, None),
    "gpt-4.1-nano": (0.10, 0.40, 0.025, None),
    "gpt-4o": (2.50, 10.0, 1.25, None),
    "gpt-4o-2024-05-13": (5.0, 15.0, None, None),
    "gpt-4o-mini": (0.15, 0.60, 0.075, None),
    "gpt-4-turbo": (10.0, 30.0, None, None),
    "gpt-3.5-turbo": (0.50, 1.50, None, None),
    "o1": (15.0, 60.0, 7.50, None),
    "o1-mini": (1.10, 4.40, 0.55, None),
    "o3": (2.0, 8.0, 0.50, None),
    "o3-mini": (1.10, 4.40, 0.55, None),
    "o4-mini": (1.10, 4.40, 0.275, None),
    "text-embedding-3-small": (0.02, 0.0, None, None),
    "text-embedding-3-large": (0.13, 0.0, None, None),
    "text-embedding-ada-002": (0.10, 0.0, None, None),
    # ---- Anthropic (cache write = 5-minute TTL rate) ---------------------------------------
    "claude-opus-4-5": (5.0, 25.0, 0.50, 6.25),
    "claude-opus-4-1": (15.0, 75.0, 1.50, 18.75),
    "claude-opus-4": (15.0, 75.0, 1.50, 18.75),
    "claude-sonnet-4-5": (3.0, 15.0, 0.30, 3.75),
    "claude-sonnet-4": (3.0, 15.0, 0.30, 3.75),
    "claude-3-7-sonnet": (3.0, 15.0, 0.30, 3.75),
    "claude-3-5-sonnet": (3.0, 15.0, 0.30, 3.75),
    "claude-haiku-4-5": (1.0, 5.0, 0.10, 1.25),
    "claude-3-5-haiku": (0.80, 4.0, 0.08, 1.0),
    "claude-3-haiku": (0.25, 1.25, 0.03, 0.30),
    "claude-3-opus": (15.0, 75.0, 1.50, 18.75),
    # ---- Amazon Bedrock (on-demand, us-east-1) ---------------------------------------------
    "anthropic.claude-opus-4-5": (5.0, 25.0, 0.50, 6.25),
    "anthropic.claude-opus-4-1": (15.0, 75.0, 1.50, 18.75),
    "anthropic.claude-sonnet-4-5": (3.0, 15.0, 0.30, 3.75),
    "anthropic.claude-sonnet-4": (3.0, 15.0, 0.30, 3.75),
    "anthropic.claude-3-7-sonnet": (3.0, 15.0, 0.30, 3.75),
    "anthropic.claude-3-5-sonnet": (3.0, 15.0, 0.30, 3.75),
    "anthropic.claude-haiku-4-5": (1.0, 5.0, 0.10, 1.25),
    "anthropic.claude-3-5-haiku": (0.80, 4.0, 0.08, 1.0),
    "anthropic.claude-3-haiku": (0.25, 1.25, None, None),
    "amazon.nova-premier-v1": (2.50, 12.50, 0.625, None),
    "amazon.nova-pro-v1": (0.80, 3.20, 0.20, None),
    "amazon.nova-lite-v1": (0.06, 0.24, 0.015, None),
    "amazon.nova-micro-v1": (0.035, 0.14, 0.00875, None),
    "meta.llama3-3-70b-instruct-v1": (0.72, 0.72, None, None),
    "meta.llama3-1-70b-instruct-v1": (0.72, 0.72, None, None),
    "meta.llama3-1-8b-instruct-v1": (0.22, 0.22, None, None),
    "mistral.mistral-large-2407-v1": (2.0, 6.0, None, None),
    "amazon.titan-embed-text-v2": (0.02, 0.0, None, None),
    "cohere.embed-english-v3": (0.10, 0.0, None, None),
    # ---- Google Gemini (prompts up to 200k tokens) -------------------------------------------
    "gemini-2.5-pro": (1.25, 10.0, 0.31, None),
    "gemini-2.5-flash": (0.30, 2.50, 0.075, None),
    "gemini-2.5-flash-lite": (0.10, 0.40, 0.025, None),
    "gemini-2.0-flash": (0.10, 0.40, 0.025, None),
    "gemini-2.0-flash-lite": (0.075, 0.30, None, None),
    "gemini-1.5-pro": (1.25, 5.0, 0.3125, None),
    "gemini-1.5-flash": (0.075, 0.30, 0.01875, None),
    "gemini-embedding-001": (0.15, 0.0, None, None),
    "text-embedding-004": (0.0, 0.0, None, None),
    # ---- the built-in mock provider: priced like a small model so local spend is visible --
    "mock-fast": (0.15, 0.60, 0.075, None),
    "mock-stream": (0.15, 0.60, 0.075, None),
    "mock-embed": (0.02, 0.0, None, None),
}

_REGION_PREFIXES = ("us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.")
_SEPARATORS = ("-", ":", "@", ".")


def _normalize(model_id: str) -> str:
    model = model_id.strip().lower()
    if model.startswith("models/"):
        model = model[len("models/"):]
    for prefix in _REGION_PREFIXES:
        if model.startswith(prefix) and "." in model[len(prefix):]:
            model = model[len(prefix):]
            break
    return model


def builtin_price(model_id: str) -> Price | None:
    """The built-in price for an upstream model id, or None when the table has no entry."""
    model = _normalize(model_id)
    row = _TABLE.get(model)
    if row is None:
        best = ""
        for key in _TABLE:
            if len(key) > len(best) and model.startswith(key) and model[len(key)] in _SEPARATORS:
                best = key
        row = _TABLE.get(best) if best else None
    if row is None:
        return None
    inp, out, cached, write = row
    return Price(input_per_mtok=inp, output_per_mtok=out, cached_input_per_mtok=cached,
                 cache_write_per_mtok=write)


def known_models() -> list[str]:
    return sorted(_TABLE)
