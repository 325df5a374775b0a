"""Guess the encoding of undeclared bytes: candidates scored by how much text they read.

Each candidate encoding reads a sample of the bytes and is scored by how much of what it
reads looks like text in that encoding (the common characters of its script) against the
bytes it cannot decode. The best reading wins, so a few stray bytes never outvote a file
of valid UTF-8, and a ten-character GB18030 seed is read as Chinese, not Korean. UTF-16
without a byte order mark is told by where its NULs fall. Only `core.text_decoding`
calls this: it decides when sniffing is needed at all.
"""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from charset_normalizer import from_bytes

SAMPLE_BYTES: Final = 65536
DROP_ASCII: Final = dict.fromkeys(range(128))
# Multi-byte encodings seen in Chinese-language archives (and their neighbours), in the
# order that breaks a tie; cp1252 stands for every Western single-byte file.
_MULTIBYTE: Final = ("gb18030", "big5", "euc_kr", "shift_jis")
_WESTERN_PUNCT: Final = frozenset("‘’‚“”„–—…•€£¥§©®°±·«»¿¡™ \xa0")
_NON_ASCII_RUN: Final = re.compile(r"[^\x00-\x7f]+")
_FIRST_NON_ASCII: Final = re.compile(rb"[\x80-\xff]")
_HIGH_BYTES: Final = bytes(range(0x80, 0x100))
_MIN_GUESS_BYTES: Final = 16
# Two readings this close are told apart by charset_normalizer's language models.
_TIE: Final = 0.9


@dataclass(frozen=True)
class _Reading:
    """What one encoding makes of the sample."""

    codec: str
    common: int  # characters typical of text in this encoding
    other: int  # other non-ASCII characters
    errors: int  # undecodable byte sequences

    @property
    def score(self) -> int:
        return self.common - self.other - 2 * self.errors

    @property
    def plausible(self) -> bool:
        """Most non-ASCII characters are typical ones: the encoding explains the bytes."""
        return self.common > 0 and self.common >= self.other + self.errors


def best_codec(window: bytes, cut: bool) -> str | None:
    """The candidate that best explains the non-ASCII bytes, or None if none does.

    UTF-8 that is not valid wins when nothing explains the bytes better but it reads some
    multi-byte characters: stray bytes in a UTF-8 file. `cut`: the window ends mid-body.
    """
    found = _FIRST_NON_ASCII.search(window)
    start = found.start() if found else 0  # a long ASCII head says nothing
    sample = window[start : start + SAMPLE_BYTES]
    cut = cut or start + SAMPLE_BYTES < len(window)
    readings = sorted((_read(sample, codec, cut) for codec in ("utf-8", *_MULTIBYTE, "cp1252")),
                      key=lambda r: r.score, reverse=True)  # stable: ties keep the order
    plausible = [r for r in readings if r.plausible]
    if not plausible:
        utf8 = next(r for r in readings if r.codec == "utf-8")
        return "utf-8" if utf8.common else None
    best = plausible[0]
    rivals = [r for r in plausible[1:4] if r.codec in _MULTIBYTE and r.score >= best.score * _TIE]
    if best.codec in _MULTIBYTE and rivals:
        # Korean in EUC-KR also reads as common hanzi in GB18030: ask the language models.
        guess = from_bytes(sample, cp_isolation=[best.codec, *(r.codec for r in rivals)]).best()
        if guess is not None and codecs.lookup(guess.encoding).name in _MULTIBYTE:
            return codecs.lookup(guess.encoding).name
    return best.codec


def single_byte_guess(window: bytes, cut: bool) -> str | None:
    """charset_normalizer's guess (Cyrillic, Greek, Central European pages), if single-byte.

    Multi-byte guesses are refused: the candidates above already tried those, and a wrong
    one swallows the ASCII byte after a stray lead byte, links included.
    """
    sample = window[:SAMPLE_BYTES]
    if len(sample) - len(sample.translate(None, _HIGH_BYTES)) < _MIN_GUESS_BYTES:
        return None  # a few stray bytes give the language models nothing to go on
    try:
        best = from_bytes(sample).best()
        codec = codecs.lookup(best.encoding).name if best is not None else None
        if codec is None or not is_single_byte(codec):
            return None
        codecs.getincrementaldecoder(codec)("strict").decode(sample, final=not cut)
    except Exception:  # a detector bug must not lose the page: cp1252 is the fallback
        return None
    return codec


@functools.cache
def is_single_byte(codec: str) -> bool:
    """Every byte is one character (latin-1 style), so no byte can swallow its neighbour."""
    high = bytes(range(0x80, 0x100))
    return len(codecs.getincrementaldecoder(codec)("replace").decode(high, final=True)) == 128


def stray_bom(data: bytes) -> bool:
    """FF FE or FE FF in front of what is plainly UTF-8 text (no NULs, decodes cleanly)."""
    rest = data[2:SAMPLE_BYTES]
    if 0 in rest:
        return False
    reading = _read(rest, "utf-8", cut=len(data) > SAMPLE_BYTES)
    return reading.plausible and reading.errors <= reading.common // 10


def utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 is the only text with NULs: they fall on one side of each byte pair."""
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd and even <= odd // 20:
        codec, nuls = "utf-16-le", odd
    elif even and odd <= even // 20:
        codec, nuls = "utf-16-be", even
    else:
        return None
    text = sample[: len(sample) // 2 * 2].decode(codec, errors="replace")
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\t\n\r\f")
    if printable - text.count("\ufffd") < len(text) * 0.95:
        return None
    if nuls >= len(sample) // 20:
        return codec  # ASCII-rich UTF-16: every other byte NUL
    # Few NULs (mostly CJK): the characters must be common ones, not random code points.
    foreign = text.translate(DROP_ASCII)
    common = _common_characters("gb18030") | _common_characters("big5")
    return codec if sum(map(common.__contains__, foreign)) >= len(foreign) * 0.8 else None


def _read(sample: bytes, codec: str, cut: bool) -> _Reading:
    # A multi-byte character cut at the end of the sample is not an error of the file.
    text = codecs.getincrementaldecoder(codec)("replace").decode(sample, final=not cut)
    foreign = text.translate(DROP_ASCII)
    errors = foreign.count("\ufffd")
    if codec == "utf-8":
        # A valid multi-byte sequence is strong evidence by itself; C1 controls are not text.
        other = sum(1 for ch in foreign if "\x80" <= ch <= "\x9f")
        return _Reading(codec, len(foreign) - errors - other, other, errors)
    if codec == "cp1252":
        common = _western_common(text)
    else:
        common = sum(map(_common_characters(codec).__contains__, foreign))
    return _Reading(codec, common, len(foreign) - errors - common, errors)


def _western_common(text: str) -> int:
    """Accented letters and typographic punctuation, alone or in short runs ("Größe").

    CJK bytes read as cp1252 give long runs of Latin-1 letters; real Western text does not.
    """
    count = 0
    for match in _NON_ASCII_RUN.finditer(text):
        run = match.group(0)
        if len(run) <= 3:
            count += sum(1 for ch in run if ch.isalpha() or ch in _WESTERN_PUNCT)
    return count


def _rows(codec: str, leads: Iterable[int], trails: Iterable[int]) -> frozenset[str]:
    found = set()
    trail_bytes = list(trails)
    for lead in leads:
        for trail in trail_bytes:
            try:
                found.add(bytes((lead, trail)).decode(codec))
            except UnicodeDecodeError:
                continue
    return frozenset(found)


@functools.cache
def _common_characters(codec: str) -> frozenset[str]:
    """Punctuation rows plus the frequent-character level of each CJK standard."""
    high = range(0xA1, 0xFF)
    sjis_trails = [*range(0x40, 0x7F), *range(0x80, 0xFD)]
    if codec == "gb18030":  # GB2312 symbols and the 3,755 level-1 hanzi
        return _rows("gb2312", [0xA1, 0xA2, 0xA3, *range(0xB0, 0xD8)], high)
    if codec == "big5":  # symbols and the 5,401 frequent hanzi
        return _rows("big5", range(0xA1, 0xC7), [*range(0x40, 0x7F), *high])
    if codec == "euc_kr":  # KS X 1001 symbols and the 2,350 Hangul syllables
        return _rows("euc_kr", [0xA1, 0xA2, 0xA3, *range(0xB0, 0xC9)], high)
    if codec == "shift_jis":  # punctuation, kana and the level-1 kanji
        return _rows("shift_jis", [0x81, 0x82, 0x83, *range(0x88, 0xA0)], sjis_trails)
    raise ValueError(codec)
