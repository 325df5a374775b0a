"""Making text that came from outside safe to show: terminals, spreadsheets, JSON, Markdown.

Anchor text, titles, contexts, URLs, reasons and headers are written by strangers. Every
output rotwatch produces passes them through one of these pure functions (no I/O), so
what a reader sees is the text itself: never a terminal escape, a reordered line, a
spreadsheet formula or a link the report did not make. HTML output uses `html.escape` on
`one_line(...)`; see docs/security.md for which output uses which function.
"""

from __future__ import annotations

import re

# Characters that are never text worth showing:
# - C0 controls (ESC starts ANSI/OSC sequences, BEL ends an OSC 8 hyperlink, CR rewrites
#   the line), DEL and the C1 controls (U+009B is a one-character CSI on many terminals);
# - the bidi embeddings, overrides, isolates and marks (U+202A-202E, U+2066-2069,
#   U+200E/U+200F, U+061C) that make a line display in another order than it reads
#   ("Trojan Source");
# - U+2028/U+2029, which some terminals and editors treat as line breaks.
# A single character class: matching is linear in the length of the text.
_NOT_TEXT = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)
# The same minus tab, LF and CR: those are harmless inside a quoted CSV cell.
_NOT_CELL_TEXT = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\u2028\u2029]"
)
# JSON output keeps every character (it is data), but as a \\u escape for those that
# json.dumps leaves raw: DEL, C1, bidi controls and the Unicode line separators.
_JSON_RAW = (*range(0x7F, 0xA0), 0x61C, 0x200E, 0x200F, *range(0x202A, 0x202F),
             *range(0x2066, 0x206A), 0x2028, 0x2029)
_JSON_ESCAPES = {code: f"\\u{code:04x}" for code in _JSON_RAW}
_JSON_RAW_RE = re.compile("[" + "".join(map(chr, sorted(_JSON_RAW))) + "]")
# A spreadsheet runs a cell starting with one of these as a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Markdown's special characters, each backslash-escaped: one pass of str.translate.
_MD_TABLE = {ord(c): "\\" + c for c in "\\`*_{}[]()#+-.!|~>"}


def one_line(value: object) -> str:
    """One line of plain text: controls and bidi formatting become spaces, runs of
    whitespace one space. None is the empty string."""
    if value is None:
        return ""
    return " ".join(_NOT_TEXT.sub(" ", str(value)).split())


def csv_cell(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text: controls (but tab/newline) become
    spaces, and text that would start a formula (after any leading spaces) is prefixed
    with an apostrophe.
    Numbers and None pass through unchanged."""
    if not isinstance(value, str):
        return value
    text = _NOT_CELL_TEXT.sub(" ", value)
    # Leading spaces too: some importers trim them and then read the formula.
    hostile = text.startswith(FORMULA_STARTS) or text.lstrip().startswith(FORMULA_STARTS)
    return f"'{text}" if hostile else text


def json_safe(dumped: str) -> str:
    """`json.dumps(..., ensure_ascii=False)` output with the characters it leaves raw
    (DEL, C1, bidi, U+2028/2029) written as \\u escapes: the same data once parsed.

    JSON syntax outside strings is ASCII, so every such character is inside a string,
    where a \\u escape means exactly that character.
    """
    # A regex finds the rare characters in C; str.translate looks up every character
    # (seconds on a report of 100,000 links).
    return _JSON_RAW_RE.sub(lambda m: _JSON_ESCAPES[ord(m.group())], dumped)


def markdown_text(value: object) -> str:
    """One line of Markdown that renders as the text itself: syntax (links, emphasis,
    table pipes, code) backslash-escaped; < and & as entities so no raw HTML gets in."""
    text = one_line(value).replace("&", "&amp;").replace("<", "&lt;")
    return text.translate(_MD_TABLE)
