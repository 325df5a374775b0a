"""Page bytes to text: BOM, declared charset (with browser superset codecs), UTF-8, a sniffed
guess; and the test that refuses binary bodies (PDFs, images) before any extraction.

Split out of archive/drift.py; `decode_html` is still importable from `rotwatch.drift`.
"""

from __future__ import annotations

import codecs
import logging
import re
from typing import Final

LOGGER = logging.getLogger(__name__)


# Labels that browsers (WHATWG Encoding Standard) decode with a superset codec: servers
# declare "gb2312" but send GBK/GB18030 characters, and "big5" pages use HKSCS extensions;
# strict decoding with the narrow codec would reject real pages.
_ENCODING_SUPERSETS: Final = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "gb_2312-80": "gb18030",
    "euc-cn": "gb18030",
    "big5": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "cp950": "big5hkscs",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "ascii": "cp1252",
    "us-ascii": "cp1252",
}
# Linear: the tag body excludes "<" so scans from two "<meta" never overlap, and the
# optional quote takes its own trailing spaces, so no two \s* compete for the same run.
_META_CHARSET: Final = re.compile(
    rb"""<meta[^<>]+?charset\s*=\s*(?:["']\s*)?([a-zA-Z0-9_.:-]+)""", re.IGNORECASE
)
_BOMS: Final = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# The WHATWG prescan looks at the first 1024 bytes; real pages often put several kB of
# scripts before the meta tag, so we look a little further.
_PRESCAN_BYTES: Final = 4096


def _codec_name(label: str | None) -> str | None:
    """A Python codec for an HTTP/HTML charset label, or None if the label is unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _ENCODING_SUPERSETS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _strict(data: bytes, codec: str | None) -> str | None:
    if codec is None:
        return None
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_html(data: bytes, encoding: str | None = None) -> str:
    """Decode page bytes: given encoding, BOM, <meta charset>, UTF-8, then a sniffed guess.

    Declared encodings are tried strictly first and skipped if they do not fit the bytes,
    because mislabelled pages (meta says UTF-8, body is GBK) are common on older sites.
    Never raises: the last resort decodes with replacement characters.
    """
    for bom, bom_codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(bom_codec, errors="replace")
    candidates: list[str | None] = [_codec_name(encoding)]
    match = _META_CHARSET.search(data[:_PRESCAN_BYTES])
    if match:
        candidates.append(_codec_name(match.group(1).decode("ascii", errors="ignore")))
    candidates.append("utf-8")
    for codec in candidates:
        text = _strict(data, codec)
        if text is not None:
            return text
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        guessed = _codec_name(best.encoding) if best is not None else None
    except Exception:  # a detector bug must not lose the page; try the CJK codecs below
        LOGGER.debug("charset detection failed", exc_info=True)
        guessed = None
    for codec in (guessed, "gb18030", "big5hkscs"):
        text = _strict(data, codec)
        if text is not None:
            return text
    fallback = _codec_name(encoding) or guessed or "utf-8"
    return data.decode(fallback, errors="replace")


def looks_binary(page: bytes | str) -> bool:
    """PDFs, images and other non-HTML bodies reach us too; their "text" is noise.

    Control characters are the tell: HTML in UTF-8, GBK or Big5 never uses bytes below
    0x20 other than whitespace (multibyte trail bytes are all >= 0x40).
    """
    head = page[:4096]
    chars = [chr(b) for b in head] if isinstance(head, bytes) else list(head)
    bad = sum(1 for ch in chars if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\t\n\r\f"))
    return bad > len(chars) * 0.05
