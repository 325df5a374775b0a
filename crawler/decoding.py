"""Turn seed bytes into text: detect the encoding (never assume it), refuse binary files."""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

from crawler.documents import SeedError

_BINARY_MAGIC = {
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
# Stray bytes a text seed may carry (a bad copy-paste, a half-converted file):
# tolerate up to this share of undecodable bytes before giving UTF-8 up.
_UTF8_TOLERANCE = 0.01
# Encodings seen in Chinese-language archives, tried after UTF-8, most specific first.
_CJK_CANDIDATES = ("gb18030", "big5", "utf_16", "shift_jis", "euc_kr", "cp1252")


def decode_seed(data: bytes, path: str = "<bytes>") -> tuple[str, str]:
    """Return (text, encoding name). Raises SeedError for binary data."""
    for magic, what in _BINARY_MAGIC.items():
        if data.startswith(magic):
            raise SeedError(f"{path}: looks like {what}, not a text seed; skipped")
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(name, errors="replace"), name
    head = data[:8192]
    if head.count(b"\x00") > len(head) // 100 + 1:
        raise SeedError(f"{path}: contains NUL bytes, looks binary, not a text seed; skipped")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    lenient = data.decode("utf-8", errors="replace")
    bad = lenient.count("\ufffd")
    has_multibyte = any(ord(ch) > 127 and ch != "\ufffd" for ch in lenient[:200000])
    if has_multibyte and bad <= max(8, int(len(data) * _UTF8_TOLERANCE)):
        return lenient, "utf-8 (with invalid bytes replaced)"
    best = from_bytes(data[:262144], cp_isolation=list(_CJK_CANDIDATES)).best()
    name = best.encoding if best is not None else "gb18030"
    if name in ("gb2312", "gbk", "hz"):
        name = "gb18030"  # superset: decodes every GBK file and then some
    if name == "utf_16" and b"\x00" not in head:
        name = "gb18030"
    return data.decode(name, errors="replace"), name
