"""The language of a seed's text, guessed from its script, for the report's `lang` attributes.

Seeds rarely declare a language; the script of their title and link text tells the
cases that matter for rendering (Chinese, Japanese, Korean, right-to-left scripts).
Latin text gives no answer: it could be any of dozens of languages. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

# (first code point, last code point, script)
_RANGES = (
    (0x3040, 0x30FF, "kana"), (0x31F0, 0x31FF, "kana"), (0x3400, 0x4DBF, "han"),
    (0x4E00, 0x9FFF, "han"), (0xF900, 0xFAFF, "han"), (0xAC00, 0xD7AF, "hangul"),
    (0x1100, 0x11FF, "hangul"), (0x0400, 0x04FF, "cyrillic"), (0x0600, 0x06FF, "arabic"),
    (0x0590, 0x05FF, "hebrew"), (0x0370, 0x03FF, "greek"), (0x0E00, 0x0E7F, "thai"),
)
_SAMPLE = 200  # characters looked at: enough to tell, bounded for long contexts


def _script(char: str) -> str | None:
    point = ord(char)
    if point < 0x370:  # the common case, without walking the table
        return "latin" if char.isalpha() else None
    for low, high, name in _RANGES:
        if low <= point <= high:
            return name
    return "latin" if char.isalpha() else None


def guess_lang(texts: Iterable[str | None]) -> str | None:
    """A BCP 47 tag ('zh', 'ja', 'ko', 'ru', 'ar', 'he', 'el', 'th') or None."""
    counts: Counter[str] = Counter()
    seen = 0
    for text in texts:
        for char in (text or "")[: _SAMPLE - seen]:
            script = _script(char)
            if script:
                counts[script] += 1
        seen += min(len(text or ""), _SAMPLE - seen)
        if seen >= _SAMPLE:
            break
    if not counts:
        return None
    if counts["kana"]:
        return "ja" if counts["kana"] + counts["han"] >= counts["latin"] else None
    script, _ = counts.most_common(1)[0]
    return {"han": "zh", "hangul": "ko", "cyrillic": "ru", "arabic": "ar", "hebrew": "he",
            "greek": "el", "thai": "th"}.get(script)
