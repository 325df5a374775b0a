"""Page facts of a response body: title, first heading and a text sample, within a cap.

The body is decoded by `core.text_decoding` (the decoder the drift check uses too) and
lxml parses that text, handed over as UTF-8 with the encoding forced: lxml's own charset
guess (meta, XML declaration) never decides what the verdict reads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from lxml import etree
from lxml import html as lxml_html

from core.content_coding import is_text, media_type
from core.text_decoding import decode_text

_PARSERS = threading.local()
TEXT_SAMPLE_CHARS = 20_000
# Title, first heading and a text sample all live near the top of a page: parsing the
# first half megabyte is enough and keeps a 10 MB page from costing the reactor dearly.
PARSE_LIMIT = 512_000


@dataclass(frozen=True)
class PageFacts:
    title: str | None
    heading: str | None
    text: str


def page_facts(data: bytes, content_type: str | None, encoding: str | None) -> PageFacts:
    """Title, first heading and a sample of visible text of an HTML page (else empty)."""
    kind = media_type(content_type)
    if not is_text(content_type):
        return PageFacts(None, None, "")
    if not data.strip():
        return PageFacts(None, None, "")
    if kind == "text/plain":
        text = decode_text(data, encoding, limit=TEXT_SAMPLE_CHARS * 4).text
        return PageFacts(None, None, _clean(text)[:TEXT_SAMPLE_CHARS])
    text = decode_text(data, encoding, limit=PARSE_LIMIT).text
    # UTF-8 bytes, not the str: lxml parses them faster and ignores declarations inside.
    try:
        root = lxml_html.document_fromstring(text.encode("utf-8", "replace"), parser=_parser())
    except (ValueError, lxml_html.etree.ParserError):
        return PageFacts(None, None, "")
    paths = _paths()
    title = _first_text(root, paths.titles)
    heading = _first_text(root, paths.headings)
    for bad in paths.hidden(root):
        bad.drop_tree()
    body = root.find("body")
    text = _sample((body if body is not None else root).text_content(), TEXT_SAMPLE_CHARS)
    return PageFacts(title, heading, text)


def _parser() -> lxml_html.HTMLParser:
    """This thread's parser: building one per page cost as much as parsing a small page,
    and an lxml parser must not be shared between threads."""
    parser: lxml_html.HTMLParser | None = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = lxml_html.HTMLParser(encoding="utf-8")
    return parser


@dataclass(frozen=True)
class _Paths:
    """The XPaths page facts need, compiled: `root.xpath(text)` compiles its expression on
    every call, which cost more than the parse of a small page."""

    titles: etree.XPath
    headings: etree.XPath
    hidden: etree.XPath


def _paths() -> _Paths:
    """This thread's compiled XPaths (lxml objects are kept per thread, like the parser)."""
    paths: _Paths | None = getattr(_PARSERS, "paths", None)
    if paths is None:
        paths = _PARSERS.paths = _Paths(
            etree.XPath("//title"), etree.XPath("//h1"),
            etree.XPath("//script|//style|//noscript|//template"))
    return paths


def _first_text(root: lxml_html.HtmlElement, xpath: etree.XPath) -> str | None:
    found = xpath(root)
    if not found:
        return None
    text = _clean(found[0].text_content())
    return text[:500] or None


def _sample(text: str, limit: int) -> str:
    """`_clean(text)[:limit]`, cleaning only as much of the text as that needs.

    The cleaned form of a prefix is a prefix of the cleaned whole (the prefix's last word
    may be cut, and no word before it changes), so once a prefix cleans to `limit`
    characters the rest cannot change the sample. An article's text is many times the
    sample: cleaning all of it cost more than parsing the page.
    """
    cut = 2 * limit
    while cut < len(text):
        head = _clean(text[:cut])
        if len(head) >= limit:
            return head[:limit]
        cut *= 4  # mostly whitespace (indented markup): look further
    return _clean(text)[:limit]


def _clean(text: str) -> str:
    # str.split() breaks on exactly the characters re's \s matches (both use Unicode's
    # whitespace), so this is `\s+` -> " " and strip, at a sixth of the regex's cost.
    return " ".join(text.split())
