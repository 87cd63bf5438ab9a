"""Image sizes from the first bytes of each format (built here from the format specs), and the
providers' published image rules checked against their own documented examples."""

from __future__ import annotations

import base64
import struct
import zlib

import pytest

from aigw.tokens.images import (
    ImageRef,
    anthropic_image_tokens,
    gemini_image_tokens,
    image_ref,
    openai_image_tokens,
    sniff_size,
)


def png(w: int, h: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk + b"\x00" * 64


def gif(w: int, h: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", w, h) + b"\x00" * 16


def jpeg(w: int, h: int, exif: int = 0) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    app1 = b"\xff\xe1" + struct.pack(">H", exif + 2) + b"\x00" * exif if exif else b""
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, h, w, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + app1 + sof0 + b"\xff\xda" + b"\x00" * 32


def webp_vp8x(w: int, h: int) -> bytes:
    body = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (w - 1).to_bytes(3, "little") + \
        (h - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


def webp_vp8l(w: int, h: int) -> bytes:
    bits = (w - 1) | ((h - 1) << 14)
    body = b"VP8L" + struct.pack("<I", 5) + b"\x2f" + struct.pack("<I", bits)
    return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body


@pytest.mark.parametrize("data", [png(640, 480), gif(640, 480), jpeg(640, 480), jpeg(640, 480, exif=30_000),
                                  webp_vp8x(640, 480), webp_vp8l(640, 480)])
def test_sizes_from_the_first_bytes(data: bytes) -> None:
    assert sniff_size(data) == (640, 480)
    url = "data:image/x;base64," + base64.b64encode(data + b"\x00" * 300_000).decode()  # a large image
    assert image_ref({"type": "image_url", "image_url": {"url": url, "detail": "low"}}) == ImageRef(640, 480, "low")


def test_unknown_or_broken_images_have_no_size() -> None:
    assert sniff_size(b"not an image") == (None, None)
    assert sniff_size(b"\xff\xd8\xff") == (None, None)
    assert image_ref({"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}) == ImageRef()
    assert image_ref({"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}) == ImageRef()
    anthropic = {"type": "image", "source": {"type": "base64", "data": base64.b64encode(png(10, 20)).decode()}}
    assert image_ref(anthropic) == ImageRef(10, 20)


def test_openai_tile_rule_matches_its_documented_examples() -> None:
    assert openai_image_tokens(ImageRef(1024, 1024, "high"), "gpt-4o") == 765
    assert openai_image_tokens(ImageRef(2048, 4096, "high"), "gpt-4o") == 1105
    assert openai_image_tokens(ImageRef(4096, 8192, "low"), "gpt-4o") == 85
    assert openai_image_tokens(ImageRef(1024, 1024), "gpt-4o-mini") == 2833 + 4 * 5667
    assert openai_image_tokens(ImageRef(), "gpt-4o") == 85 + 8 * 170  # size unknown: the rule's maximum


def test_openai_patch_rule() -> None:
    assert openai_image_tokens(ImageRef(1024, 1024), "gpt-4.1-mini") == 1659  # 1024 patches x 1.62
    assert openai_image_tokens(ImageRef(8000, 8000), "gpt-4.1-nano") == 3779  # capped at 1536 patches x 2.46


def test_anthropic_and_gemini_rules() -> None:
    assert anthropic_image_tokens(ImageRef(200, 200)) == 54  # the vision guide's own examples
    assert anthropic_image_tokens(ImageRef(1000, 1000)) == 1334
    assert anthropic_image_tokens(ImageRef(5000, 5000)) <= 1600 and anthropic_image_tokens(ImageRef()) == 1600
    assert gemini_image_tokens(ImageRef(384, 300)) == 258
    assert gemini_image_tokens(ImageRef(1000, 1000)) == 4 * 258
