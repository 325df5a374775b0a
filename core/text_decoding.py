"""Bytes to text, seed or page: one precedence, the same answer everywhere (pure, no I/O).

The encoding is decided once, from the first `DECISION_BYTES` only, so every caller that
holds at least that much of a body (the crawl's page facts, the drift worker's main text,
a seed) decides the same encoding. The order follows the WHATWG encoding sniffing
algorithm that browsers use:

1. a byte order mark (unless it is a stray FF FE / FE FF in front of plain UTF-8);
2. the transport charset (the Content-Type header), when it fits the bytes;
3. the in-document declaration (``<meta charset>``, ``http-equiv``, the XML declaration);
4. UTF-8 when the bytes are valid UTF-8 (UTF-16 without a BOM is told by its NULs first);
5. the scored candidates of `core.charset_sniffing` (UTF-8 with stray bytes, GB18030, Big5,
   EUC-KR, Shift_JIS, cp1252), then a single-byte guess of charset_normalizer;
6. cp1252, the browsers' fallback.

Unlike a browser, a declaration must *fit* (few undecodable bytes): mislabelled pages (meta
says UTF-8, body is GBK) are common on older sites, and the bytes then decide. Declared
labels map to the superset codecs browsers use (gb2312 -> gb18030, big5 -> big5hkscs,
latin1 -> cp1252). Binary refusal lives here too: `binary_reason` for seeds,
`looks_binary` for page bodies.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

from core.charset_sniffing import (
    DROP_ASCII,
    SAMPLE_BYTES,
    best_codec,
    is_single_byte,
    single_byte_guess,
    stray_bom,
    utf16_without_bom,
)

# Enough for any declaration and a sniffing sample; below every caller's body limit.
DECISION_BYTES: Final = 1 << 19
REPLACED: Final = " (with invalid bytes replaced)"
_BINARY_MAGIC: Final = {
    b"\x89PNG\r\n\x1a\n": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF87a": "a GIF image",
    b"GIF89a": "a GIF image",
    b"%PDF-": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (or an office document)",
    b"\x1f\x8b": "a gzip file",
    b"RIFF": "a RIFF (WebP/WAV/AVI) file",
    b"\x7fELF": "an executable",
}
# C0 controls that text never contains (tab, newlines, form feed and ESC excluded).
_CONTROL_BYTES: Final = bytes([*range(0, 9), *range(0x0E, 0x1B), *range(0x1C, 0x20)])
# Labels that browsers (WHATWG Encoding Standard) decode with a superset codec: servers
# declare "gb2312" but send GBK/GB18030 characters, and "big5" pages use HKSCS extensions.
_SUPERSETS: Final = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
    "gb_2312-80": "gb18030", "euc-cn": "gb18030",
    "big5": "big5hkscs", "x-x-big5": "big5hkscs", "cp950": "big5hkscs",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "ascii": "cp1252",
    "us-ascii": "cp1252",
}
# Python codecs that no browser accepts as a charset (UTF-7 is an XSS vector).
_NOT_CHARSETS: Final = frozenset({
    "utf-7", "unicode-escape", "raw-unicode-escape", "punycode", "idna", "undefined"})
# Linear: the tag body excludes "<" so scans from two "<meta" never overlap, and the
# optional quote takes its own trailing spaces, so no two \s* compete for the same run.
_META_CHARSET: Final = re.compile(
    rb"""<meta[^<>]+?charset\s*=\s*(?:["']\s*)?([a-zA-Z0-9_.:-]+)""", re.IGNORECASE
)
# Anchored at the start and bounded: one pass over at most 200 bytes.
_XML_DECLARATION: Final = re.compile(
    rb"""\A\s{0,64}<\?xml\s[^<>]{0,200}?encoding\s*=\s*["']([a-zA-Z0-9_.:-]+)"""
)
# The WHATWG prescan looks at the first 1024 bytes; real pages often put several kB of
# scripts before the meta tag, so we look a little further.
_PRESCAN_BYTES: Final = 4096


class EncodingSource(Enum):
    """Which step of the precedence decided the encoding."""

    BOM = "byte order mark"
    TRANSPORT = "transport charset"
    DOCUMENT = "in-document declaration"
    SNIFFED = "sniffed from the bytes"
    FALLBACK = "fallback"


@dataclass(frozen=True)
class DecodedText:
    """Text, the codec that produced it, why that codec, and whether bytes were replaced."""

    text: str
    encoding: str
    source: EncodingSource
    replaced: bool

    @property
    def label(self) -> str:
        """The codec name, marked when invalid bytes were replaced (seeds store this)."""
        return self.encoding + REPLACED if self.replaced else self.encoding


def decode_text(data: bytes, transport: str | None = None, *,
                limit: int | None = None) -> DecodedText:
    """Decode `data` (only its first `limit` bytes, a cut character dropped). Never raises.

    `transport` is the charset label of the Content-Type header; seeds have none.
    """
    codec, source = choose_encoding(data, transport)
    cut = limit is not None and limit < len(data)
    head = data[:limit] if cut else data
    try:
        text = _decoder(codec, "strict").decode(head, final=not cut)
        return DecodedText(text, codec, source, replaced=False)
    except UnicodeDecodeError:
        text = _decoder(codec, "replace").decode(head, final=not cut)
        return DecodedText(text, codec, source, replaced=True)


def choose_encoding(data: bytes, transport: str | None = None) -> tuple[str, EncodingSource]:
    """The codec for `data` and the step that chose it, from its first DECISION_BYTES."""
    window = data[:DECISION_BYTES]
    cut = len(data) > len(window)
    bom = _bom_codec(window)
    if bom is not None:
        return bom, EncodingSource.BOM
    for codec, source in ((codec_name(transport), EncodingSource.TRANSPORT),
                          (_declared(window), EncodingSource.DOCUMENT)):
        if codec is not None and _fits(window, codec, cut):
            return codec, source
    utf16 = utf16_without_bom(window[:SAMPLE_BYTES])
    if utf16 is not None:
        return utf16, EncodingSource.SNIFFED
    try:
        _decoder("utf-8", "strict").decode(window, final=not cut)
        return "utf-8", EncodingSource.SNIFFED
    except UnicodeDecodeError:
        pass
    guessed = best_codec(window, cut) or single_byte_guess(window, cut)
    if guessed is not None:
        return guessed, EncodingSource.SNIFFED
    return "cp1252", EncodingSource.FALLBACK


def codec_name(label: str | None) -> str | None:
    """A Python codec for an HTTP/HTML charset label (browser supersets), else None."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    try:
        info = codecs.lookup(_SUPERSETS.get(label, label))
    except LookupError:
        return None
    name = info.name.replace("_", "-")
    if name in _NOT_CHARSETS or not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def binary_reason(data: bytes) -> str | None:
    """Why `data` is not text at all (a file signature, NULs, control bytes), else None."""
    for magic, what in _BINARY_MAGIC.items():
        if data.startswith(magic):
            return f"looks like {what}"
    sample = data[:SAMPLE_BYTES]
    if _bom_codec(sample) is not None or utf16_without_bom(sample) is not None:
        return None
    # A short seed may carry a few stray NULs (a pasted binary header); a binary file has many.
    if sample.count(0) > max(8, len(sample) // 100):
        return "contains NUL bytes, looks binary"
    if len(sample) - len(sample.translate(None, _CONTROL_BYTES)) > len(sample) // 10 + 1:
        return "mostly control bytes, looks binary"
    return None


def looks_binary(page: bytes | str) -> bool:
    """PDFs, images and other non-HTML bodies reach the drift check too; their "text" is noise.

    Control characters are the tell: HTML in UTF-8, GBK or Big5 never uses bytes below
    0x20 other than whitespace (multibyte trail bytes are all >= 0x40).
    """
    head = page[:4096]
    chars = [chr(b) for b in head] if isinstance(head, bytes) else list(head)
    bad = sum(1 for ch in chars if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\t\n\r\f"))
    return bad > len(chars) * 0.05


def _decoder(codec: str, errors: str) -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder(codec)(errors)


def _bom_codec(data: bytes) -> str | None:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and not stray_bom(data):
        return "utf-16"
    return None


def _declared(window: bytes) -> str | None:
    """The charset the document declares about itself, if any."""
    match = _XML_DECLARATION.match(window) or _META_CHARSET.search(window[:_PRESCAN_BYTES])
    if match is None:
        return None
    codec = codec_name(match.group(1).decode("ascii", errors="ignore"))
    # WHATWG: a document that could read its own ASCII declaration is not UTF-16.
    return "utf-8" if codec is not None and codec.startswith("utf-16") else codec


def _fits(window: bytes, codec: str, cut: bool) -> bool:
    """The declared codec reads the bytes, a multi-byte one but for a few stray bytes.

    A single-byte codec must read every byte: UTF-8 declared as ISO-8859-1 (a common server
    default) reads as cp1252 but for its few undefined bytes, and then UTF-8 is the answer.
    """
    try:
        text = _decoder(codec, "replace").decode(window, final=not cut)
    except (LookupError, UnicodeError):
        return False
    errors = text.count("\ufffd")
    if not errors:
        return True
    if is_single_byte(codec):
        return False
    valid = len(text.translate(DROP_ASCII)) - errors
    return errors <= 1 + valid // 10
