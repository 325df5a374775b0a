"""What a response body says, read within a size cap: decoding and page facts.

HttpCompressionMiddleware is replaced by this bounded decoder so that (a) the WARC keeps
the bytes exactly as sent and (b) a gzip bomb inflates to at most the cap, never into
memory unbounded.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

from lxml import html as lxml_html

try:  # optional codecs: Scrapy advertises them only when installed
    import brotli
except ImportError:  # pragma: no cover - depends on the environment
    brotli = None

_SPACES = re.compile(r"\s+")
TEXT_SAMPLE_CHARS = 20_000
# Title, first heading and a text sample all live near the top of a page: parsing the
# first half megabyte is enough and keeps a 10 MB page from costing the reactor dearly.
PARSE_LIMIT = 512_000


@dataclass(frozen=True)
class DecodedBody:
    data: bytes
    truncated: bool
    error: str | None = None


def accepted_encodings() -> str:
    return "gzip, deflate, br" if brotli is not None else "gzip, deflate"


def decode_body(body: bytes, content_encoding: str | None, limit: int) -> DecodedBody:
    """Undo Content-Encoding, producing at most `limit` bytes."""
    encodings = [e.strip().lower() for e in (content_encoding or "").split(",") if e.strip()]
    data, truncated = body[:limit], len(body) > limit
    for encoding in reversed(encodings):
        if encoding in ("identity", ""):
            continue
        try:
            if encoding in ("gzip", "x-gzip"):
                data, cut = _inflate(data, zlib.MAX_WBITS | 16, limit)
            elif encoding == "deflate":
                try:
                    data, cut = _inflate(data, zlib.MAX_WBITS, limit)
                except zlib.error:  # raw deflate, as some servers send
                    data, cut = _inflate(data, -zlib.MAX_WBITS, limit)
            elif encoding == "br" and brotli is not None:
                data = brotli.decompress(data)
                cut = len(data) > limit
                data = data[:limit]
            else:
                return DecodedBody(b"", truncated, f"unsupported Content-Encoding {encoding}")
        except (zlib.error, OSError, ValueError) as exc:
            return DecodedBody(b"", truncated, f"cannot decode {encoding} body: {exc}")
        except Exception as exc:  # brotli.error is not an Exception subclass we can name
            return DecodedBody(b"", truncated, f"cannot decode {encoding} body: {exc}")
        truncated = truncated or cut
    return DecodedBody(data, truncated)


def _inflate(data: bytes, wbits: int, limit: int) -> tuple[bytes, bool]:
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(data, limit)
    # Anything left unconsumed means the inflated size is over the cap: stop there.
    cut = bool(inflater.unconsumed_tail)
    return out, cut


@dataclass(frozen=True)
class PageFacts:
    title: str | None
    heading: str | None
    text: str


def page_facts(data: bytes, content_type: str | None, encoding: str | None) -> PageFacts:
    """Title, first heading and a sample of visible text of an HTML page (else empty)."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind and kind not in ("text/html", "application/xhtml+xml", "text/plain"):
        return PageFacts(None, None, "")
    if not data.strip():
        return PageFacts(None, None, "")
    if kind == "text/plain":
        text = data[: TEXT_SAMPLE_CHARS * 4].decode(encoding or "utf-8", errors="replace")
        return PageFacts(None, None, _clean(text)[:TEXT_SAMPLE_CHARS])
    try:
        parser = lxml_html.HTMLParser(encoding=encoding) if encoding else None
        root = lxml_html.document_fromstring(data[:PARSE_LIMIT], parser=parser)
    except (ValueError, LookupError, lxml_html.etree.ParserError):
        return PageFacts(None, None, "")
    title = _first_text(root, "//title")
    heading = _first_text(root, "//h1")
    for bad in root.xpath("//script|//style|//noscript|//template"):
        bad.drop_tree()
    body = root.find("body")
    text = _clean((body if body is not None else root).text_content())
    return PageFacts(title, heading, text[:TEXT_SAMPLE_CHARS])


def _first_text(root: lxml_html.HtmlElement, xpath: str) -> str | None:
    found = root.xpath(xpath)
    if not found:
        return None
    text = _clean(found[0].text_content())
    return text[:500] or None


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()
