"""Seed formats: detect which one a document is, and bring each to a common shape.

HTML and news-export seeds stay HTML; Markdown is rendered to HTML (raw HTML inside it
kept); plain text is scanned for bare URLs. Pure functions of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from markdown_it import MarkdownIt

from core.documents import SeedFormat

# <!--1722218822000-->, then [title](url), then a setext underline, then the article HTML.
# Stray bytes in front (a BOM, replacement characters) do not hide the header.
# Linear: each line break is "spaces up to a newline, then any whitespace" ([^\S\n]*\n\s*),
# never "\s*\n" whose two parts could both take the same newlines (quadratic backtracking).
_NEWS_EXPORT = re.compile(
    r"\A[\s\ufeff\ufffd]*<!--\s*(?P<ms>\d{10,13})\s*-->[^\S\n]*\n"
    r"\s*\[(?P<title>[^\]\n]*)\]\((?P<url>[^)\s]+)\)[^\S\n]*\n"
    r"\s*[-=]{2,}\s*\n?",
)
_HTML_START = re.compile(
    r"\A\s*(<!doctype html|<html|<head|<body|<!--|<meta|<article|<div|<p[\s>])", re.IGNORECASE)
_HTML_TAGS = re.compile(r"<(a|p|div|section|article|img|br|span|h[1-6])[\s>/]", re.IGNORECASE)
# Markdown's look: an inline link "[text](dest)", a reference definition "[label]: dest" at
# a line start, or an autolink "<https://...>". Linear on any input: no bracket class
# contains the character that opens the next attempt ("[" or "<"), so the scans started at
# different positions never cover the same text; for the inline form only the opening
# "[text](d" is matched and the closing ")" is looked for once, after the first such opening.
_MD_INLINE_OPEN = re.compile(r"\[[^\[\]\n]*\]\([^)\s]")
_MD_REFERENCE_OR_AUTOLINK = re.compile(r"^[^\S\n]{0,3}\[[^\[\]]+\]:\s*\S|<https?://[^<>\s]+>",
                                       re.MULTILINE)

_EXTENSIONS = {
    ".html": SeedFormat.HTML, ".htm": SeedFormat.HTML, ".xhtml": SeedFormat.HTML,
    ".md": SeedFormat.MARKDOWN, ".markdown": SeedFormat.MARKDOWN, ".mdown": SeedFormat.MARKDOWN,
}


@dataclass(frozen=True)
class NewsExportHeader:
    title: str
    url: str
    published_at: datetime
    body: str


def parse_news_export(text: str) -> NewsExportHeader | None:
    match = _NEWS_EXPORT.match(text)
    if match is None:
        return None
    ms = int(match["ms"])
    if len(match["ms"]) <= 10:  # seconds, not milliseconds
        ms *= 1000
    published = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return NewsExportHeader(match["title"].strip(), match["url"], published, text[match.end():])


def detect_format(text: str, path: str) -> SeedFormat:
    """News-export by its header; then the file extension; then the content's look."""
    if _NEWS_EXPORT.match(text):
        return SeedFormat.NEWS_EXPORT
    lowered = path.lower()
    for extension, fmt in _EXTENSIONS.items():
        if lowered.endswith(extension):
            return fmt
    head = text[:65536]
    if _HTML_START.match(head) or len(_HTML_TAGS.findall(head)) >= 3:
        return SeedFormat.HTML
    if looks_like_markdown(head):
        return SeedFormat.MARKDOWN
    return SeedFormat.TEXT


def looks_like_markdown(text: str) -> bool:
    """An inline link, a reference definition or an autolink, in time linear in the text."""
    opening = _MD_INLINE_OPEN.search(text)
    # Any ")" after the first opening closes it; none after it means none after a later one.
    if opening is not None and ")" in text[opening.end():]:
        return True
    return _MD_REFERENCE_OR_AUTOLINK.search(text) is not None


_markdown = MarkdownIt("commonmark", {"html": True, "linkify": True}).enable("linkify")
# Bare URLs are linkified by the core rule alone. markdown-it-py's inline linkify rule
# searches all the pending text before each "://" (quadratic: 128 KB of "<http://" took
# over a minute); the core rule finds the same links in one pass over each text run.
_markdown.inline.ruler.disable("linkify")


def markdown_to_html(text: str) -> str:
    """Inline, reference-style and autolinks, bare URLs (linkify) and raw HTML all survive."""
    return _markdown.render(text)


# Bare URLs in plain text. Stops at whitespace, quotes, angle brackets and CJK text
# punctuation; trailing sentence punctuation is trimmed afterwards.
_BARE_URL = re.compile(r"""(?:https?://|www\.)[^\s<>"'\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\u201c\u201d\u2018\u2019]+""",
                       re.IGNORECASE)
_TRAILING = ".,;:!?'\"*_~…"
_CLOSERS = {")": "(", "]": "[", "}": "{"}


@dataclass(frozen=True)
class TextURL:
    url: str
    start: int
    end: int


def find_bare_urls(text: str) -> list[TextURL]:
    found: list[TextURL] = []
    for match in _BARE_URL.finditer(text):
        url = _trim(match.group(0))
        if len(url) <= len("https://"):
            continue
        if url.lower().startswith("www."):
            url = "http://" + url
            found.append(TextURL(url, match.start(), match.start() + len(url) - 7))
        else:
            found.append(TextURL(url, match.start(), match.start() + len(url)))
    return found


def _trim(url: str) -> str:
    # One pass from the end with running bracket counts: slicing or re-counting per
    # character would be quadratic on a URL followed by thousands of ")" or ".".
    counts = {ch: url.count(ch) for pair in _CLOSERS.items() for ch in pair}
    end = len(url)
    while end:
        last = url[end - 1]
        if last in _TRAILING:
            end -= 1
        elif last in _CLOSERS and counts[_CLOSERS[last]] < counts[last]:
            counts[last] -= 1
            end -= 1  # "(see https://x.org/a)" — the paren belongs to the prose
        else:
            break
    return url[:end]
