"""Pages queued for main-text extraction by where they are archived, never as their bytes.

When thousands of pages change at once the one extraction worker per crawl process falls
far behind the crawl, and queued 40 KiB bodies held hundreds of MB (docs/benchmarks.md,
"Article-sized pages"). A `PageRef` is a few hundred bytes: the worker process reads the
page back from its WARC record itself. This module is what that worker imports, so it
stays light (no Scrapy: the worker's memory counts in the crawl's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archive.warc.reader import read_response
from rotwatch.drift import MainText, extract_main_text


def charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, as the crawl reads it."""
    if not content_type or "charset=" not in content_type.lower():
        return None
    value = content_type.lower().split("charset=", 1)[1].split(";")[0].strip().strip("\"'")
    return value or None


@dataclass(frozen=True)
class PageRef:
    """A page to extract: the response record at `offset` of `warc_file`, its payload
    decoded and cut to `length` bytes.

    With `exact`, `length` and `encoding` are the crawl's own (its decoded body's length,
    its charset): the cut payload is then byte for byte the body the crawl had, and a
    shorter one is refused. Without, the page is read as a stored capture is (its own
    Content-Type's charset when `encoding` is None, at most `length` bytes)."""

    warc_dir: Path
    warc_file: str
    offset: int
    url: str
    length: int
    encoding: str | None = None
    exact: bool = False


def stored_page(ref: PageRef) -> tuple[bytes, str | None]:
    """The page a reference names and its charset. Raises ValueError (naming the page)
    when its record cannot be read or is not the page the crawl had."""
    try:
        stored = read_response(ref.warc_dir, ref.warc_file, ref.offset)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the capture of {ref.url} to extract its text: "
                         f"{exc}") from exc
    body, encoding = stored.payload[:ref.length], ref.encoding
    if ref.exact and len(body) < ref.length:  # not the page the crawl read: compare nothing
        raise ValueError(f"the capture of {ref.url} holds {len(body)} bytes, the crawl "
                         f"read {ref.length}")
    if encoding is None and not ref.exact:
        encoding = charset(next((v for k, v in stored.headers
                                 if k.lower() == "content-type"), None))
    return body, encoding


def extract_ref(ref: PageRef) -> MainText:
    """Read a page back from its WARC record and extract its main text (in the extraction
    worker process)."""
    body, encoding = stored_page(ref)
    return extract_main_text(body, ref.url, encoding=encoding)
