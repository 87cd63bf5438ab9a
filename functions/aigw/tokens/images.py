"""Image sizes without decoding images, and what each provider bills for an image.

A reservation must not skip images: one image can cost more than a long prompt (48,000
tokens on gpt-4o-mini). Every rule below is the provider's published formula; where the
size is unknown (an `https://` URL the gateway does not fetch) the rule's maximum is used.

Sizes are read from the first bytes of a base64 `data:` URL (PNG IHDR, GIF screen
descriptor, JPEG SOF marker, WebP VP8/VP8L/VP8X header): only a prefix is decoded, so a
7 MB image costs microseconds.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from dataclasses import dataclass
from typing import Any

# Decode at most this much of an image to find its size (a JPEG's SOF can follow large EXIF data).
_SNIFF_BYTES = 256 * 1024
_DATA_URL = re.compile(r"^data:[^;,]*(;[^,]*)?;base64,", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image in a prompt: its size if the gateway could read it, and the detail asked for."""

    width: int | None = None
    height: int | None = None
    detail: str | None = None  # OpenAI's "low" | "high" | "auto"

    @property
    def known(self) -> bool:
        return bool(self.width and self.height)


def image_ref(part: dict[str, Any]) -> ImageRef:
    """An OpenAI `image_url` / Responses `input_image` / Anthropic `image` content part."""
    detail: str | None = None
    url: Any = None
    raw = part.get("image_url")
    if isinstance(raw, dict):
        url, detail = raw.get("url"), raw.get("detail")
    elif isinstance(raw, str):
        url, detail = raw, part.get("detail")
    source = part.get("source")
    if isinstance(source, dict) and source.get("type") == "base64":
        return ImageRef(*_size(source.get("data")), detail=None)
    if isinstance(url, str):
        match = _DATA_URL.match(url)
        if match:
            return ImageRef(*_size(url[match.end():]), detail=detail if isinstance(detail, str) else None)
    return ImageRef(detail=detail if isinstance(detail, str) else None)


def _size(b64: Any) -> tuple[int | None, int | None]:
    if not isinstance(b64, str) or not b64:
        return None, None
    prefix = b64[: _SNIFF_BYTES * 4 // 3]
    prefix = prefix[: len(prefix) - len(prefix) % 4]
    try:
        head = base64.b64decode(prefix, validate=False)
    except (binascii.Error, ValueError):
        return None, None
    return sniff_size(head)


def sniff_size(data: bytes) -> tuple[int | None, int | None]:
    """(width, height) from an image's first bytes; (None, None) if not recognised."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
            w, h = struct.unpack(">II", data[16:24])
            return _plausible(w, h)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            w, h = struct.unpack("<HH", data[6:10])
            return _plausible(w, h)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp(data)
        if data[:2] == b"\xff\xd8":
            return _jpeg(data)
    except struct.error:
        pass
    return None, None


def _plausible(w: int, h: int) -> tuple[int | None, int | None]:
    return (w, h) if 0 < w <= 100_000 and 0 < h <= 100_000 else (None, None)


def _webp(data: bytes) -> tuple[int | None, int | None]:
    chunk = data[12:16]
    if chunk == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return _plausible(w, h)
    if chunk == b"VP8L" and data[20:21] == b"\x2f":
        bits = int.from_bytes(data[21:25], "little")
        return _plausible((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return _plausible(w & 0x3FFF, h & 0x3FFF)
    return None, None


def _jpeg(data: bytes) -> tuple[int | None, int | None]:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None, None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return _plausible(w, h)
        i += 2 + length
    return None, None


# ---- what each provider bills ------------------------------------------------------------------
# OpenAI, tile rule (platform.openai.com/docs/guides/images-vision, "Calculating costs"): "low"
# detail costs the base; otherwise the image is fitted into 2048x2048, scaled so its shortest
# side is 768 px, and every 512 px tile costs `tile` on top of the base. (base, tile) per model:
_OPENAI_TILES: tuple[tuple[str, int, int], ...] = (
    ("gpt-4o-mini", 2833, 5667),
    ("gpt-5", 70, 140),  # gpt-5, gpt-5-chat-latest (gpt-5-mini/nano use patches, below)
    ("computer-use", 65, 129),
    ("o1", 75, 150), ("o3", 75, 150),
    ("gpt-4o", 85, 170), ("gpt-4.1", 85, 170), ("gpt-4.5", 85, 170), ("chatgpt-4o", 85, 170),
)
# OpenAI, patch rule (same page): 32x32 px patches, at most 1536 (larger images are scaled down
# to fit), times a per-model multiplier.
_OPENAI_PATCHES: tuple[tuple[str, float], ...] = (
    ("gpt-4.1-mini", 1.62), ("gpt-4.1-nano", 2.46), ("o4-mini", 1.72),
    ("gpt-5-mini", 1.62), ("gpt-5-nano", 2.46),
)
_MAX_PATCHES = 1536


def openai_image_tokens(image: ImageRef, model: str) -> int:
    m = model.lower()
    for prefix, multiplier in _OPENAI_PATCHES:
        if prefix in m:
            return math.ceil(_patches(image) * multiplier)
    base, tile = next(((b, t) for prefix, b, t in _OPENAI_TILES if prefix in m), (85, 170))
    if image.detail == "low":
        return base
    return base + tile * _tiles(image)


def _tiles(image: ImageRef) -> int:
    if not image.known:
        return 8  # the most a 2048x768 fit allows: 4 x 2 tiles
    w, h = float(image.width or 0), float(image.height or 0)
    fit = min(1.0, 2048 / max(w, h))
    w, h = w * fit, h * fit
    scale = 768 / min(w, h)  # upper bound: a smaller image is counted as if scaled up
    w, h = w * scale, h * scale
    return math.ceil(w / 512) * math.ceil(h / 512)


def _patches(image: ImageRef) -> int:
    if not image.known:
        return _MAX_PATCHES
    w, h = image.width or 0, image.height or 0
    return min(math.ceil(w / 32) * math.ceil(h / 32), _MAX_PATCHES)


# Anthropic (docs.anthropic.com/en/docs/build-with-claude/vision, "Evaluate image size"):
# tokens = width * height / 750, after images with a long edge over 1568 px or more than about
# 1.15 megapixels are scaled down; so never more than about 1,600 tokens.
ANTHROPIC_MAX_IMAGE_TOKENS = 1_600
_ANTHROPIC_MAX_EDGE = 1_568
_ANTHROPIC_MAX_PIXELS = 1_200_000  # "about 1.15 megapixels", rounded up


def anthropic_image_tokens(image: ImageRef, model: str = "") -> int:
    if not image.known:
        return ANTHROPIC_MAX_IMAGE_TOKENS
    w, h = float(image.width or 0), float(image.height or 0)
    scale = min(1.0, _ANTHROPIC_MAX_EDGE / max(w, h), math.sqrt(_ANTHROPIC_MAX_PIXELS / (w * h)))
    return min(math.ceil(w * h * scale * scale / 750), ANTHROPIC_MAX_IMAGE_TOKENS)


# Gemini (ai.google.dev/gemini-api/docs/tokens, "Multimodal tokens"): an image with both sides at
# most 384 px is 258 tokens; a larger one is cut into 768x768 tiles of 258 tokens each.
_GEMINI_TILE_TOKENS = 258
_GEMINI_UNKNOWN_TILES = 16  # a size the gateway cannot read: up to a 3072x3072 image


def gemini_image_tokens(image: ImageRef, model: str = "") -> int:
    if not image.known:
        return _GEMINI_TILE_TOKENS * _GEMINI_UNKNOWN_TILES
    w, h = image.width or 0, image.height or 0
    if w <= 384 and h <= 384:
        return _GEMINI_TILE_TOKENS
    return _GEMINI_TILE_TOKENS * math.ceil(w / 768) * math.ceil(h / 768)


# Everything else (Llama, Mistral, Nova, models behind an OpenAI-compatible server): no common
# rule. The densest published ones are about one token per 750-784 px (Anthropic; Qwen-VL's
# 28x28 patches), so size / 750 without any downscaling, or the Anthropic maximum when the
# size is unknown; the learned ratio (budgets/bounds.py) covers an upstream beyond that.
_GENERIC_MAX = 16_384


def generic_image_tokens(image: ImageRef, model: str = "") -> int:
    if not image.known:
        return ANTHROPIC_MAX_IMAGE_TOKENS
    return min(math.ceil((image.width or 0) * (image.height or 0) / 750), _GENERIC_MAX)
