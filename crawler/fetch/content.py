"""Page facts of a response body: title, first heading and a text sample, within a cap.

The body is decoded by `core.text_decoding` (the decoder the drift check uses too) and
lxml parses that text, handed over as UTF-8 with the encoding forced: lxml's own charset
guess (meta, XML declaration) never decides what the verdict reads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from lxml import html as lxml_html

from core.content_coding import is_text, media_type
from core.text_decoding import decode_text

_PARSERS = threading.local()
TEXT_SAMPLE_CHARS = 20_000
# Title, first heading and a text sample all live near the top of a page: parsing the
# first half megabyte is enough and keeps a 10 MB page from costing the reactor dearly.
PARSE_LIMIT = 512_000
# Elements whose text no reader sees.
_HIDDEN = ("script", "style", "noscript", "template")


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
    # Tree walks in lxml's C code (document order, as the XPaths //title, //h1 and
    # //script|//style|//noscript|//template gave; the first title and heading end
    # their walk): a third of the XPaths' cost.
    title = _first_text(next(root.iter("title"), None))
    heading = _first_text(next(root.iter("h1"), None))
    for bad in list(root.iter(*_HIDDEN)):
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


def _first_text(element: lxml_html.HtmlElement | None) -> str | None:
    if element is None:
        return None
    text = _clean(element.text_content())
    return text[:500] or None


def _sample(text: str, limit: int) -> str:
    """`_clean(text)[:limit]`, cleaning only as much of the text as that needs.

    The cleaned form of a prefix is a prefix of the cleaned whole (the prefix's last word
    may be cut, and no word before it changes), so once a prefix cleans to `limit`
    characters the rest cannot change the sample. An article's text is many times the
    sample: cleaning all of it cost more than parsing the page.
    """
    cut = limit + limit // 4  # room for the whitespace that cleaning removes
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
