"""Extraction: one seed document in, its SeedDocument and every outbound link out.

A pure function of (bytes, path): no file system, no network, no clock. Reading files
and walking directories is the caller's job (crawler/seeds.py).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Tag

from core.documents import (
    ExtractedSeed,
    OutboundLink,
    Role,
    SeedDocument,
    SeedError,
    SeedFormat,
)
from core.roles import LinkFacts, assign_role
from core.text_decoding import binary_reason, decode_text
from core.urls import ResolvedURL, normalise_key, resolve
from crawler.extract.formats import (
    detect_format,
    find_bare_urls,
    markdown_to_html,
    parse_news_export,
)
from crawler.extract.link_context import CONTEXT_LIMIT, DocumentIndex, clean, sentence_around

# (tag, attribute) pairs that point at another resource, in the order they are read.
_LINK_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "a": ("href",), "area": ("href",), "img": ("src", "srcset"), "source": ("src", "srcset"),
    "video": ("src", "poster"), "audio": ("src",), "iframe": ("src",), "embed": ("src",),
    "track": ("src",), "link": ("href",),
}
# Still importable from here: the context helpers moved to crawler.extract.link_context.
__all__ = ["extract", "sentence_around"]
_LINK_TAGS = frozenset(_LINK_ATTRIBUTES)
# A URL that will be requested: printable ASCII only (resolve() percent-encodes the rest),
# host labels of letters, digits, "-" and "_" (seen in real subdomains).
_NOT_URL_CHARACTER = re.compile(r"[^\x21-\x7e]")
_HOST_LABEL = re.compile(r"[a-z0-9_-]{1,63}")


def extract(data: bytes, path: str, fmt: SeedFormat | None = None) -> ExtractedSeed:
    """Parse one seed. Raises SeedError only when the bytes are not a text document at all."""
    refused = binary_reason(data)
    if refused:
        raise SeedError(f"{path}: {refused}, not a text seed; skipped")
    decoded = decode_text(data)  # a seed has no transport charset
    text, encoding = decoded.text, decoded.label
    digest = hashlib.sha256(data).hexdigest()
    fmt = fmt or detect_format(text, path)
    warnings: list[str] = []
    if encoding.startswith("utf-8 ("):
        warnings.append(f"{path}: invalid UTF-8 bytes replaced; links around them kept")
    if fmt is SeedFormat.TEXT:
        doc = SeedDocument(path, fmt, encoding, digest)
        return ExtractedSeed(doc, tuple(_text_links(text)), tuple(warnings))
    header = parse_news_export(text) if fmt is SeedFormat.NEWS_EXPORT else None
    if fmt is SeedFormat.NEWS_EXPORT and header is None:
        warnings.append(f"{path}: no news-export header found; read as HTML")
    html = header.body if header else text
    if fmt is SeedFormat.MARKDOWN:
        html = markdown_to_html(text)
    soup = BeautifulSoup(html, "lxml")
    doc = _describe(soup, path, fmt, encoding, digest, header)
    links: list[OutboundLink] = []
    self_key: str | None = None
    if doc.url:
        resolved = _fetchable(resolve(doc.url, None))
        self_key = resolved.key
        if header:
            links.append(OutboundLink(
                href=header.url, url=resolved.url, key=resolved.key, host=resolved.host,
                role=Role.SELF, element="title-link", anchor_text=header.title, title=None,
                context=header.title, position=0, checkable=resolved.checkable,
                reason=resolved.reason))
    base = _base_url(soup, doc.url)
    index = DocumentIndex(soup, _LINK_TAGS)
    for element, attribute, href in _iter_hrefs(soup):
        links.append(_link(index, element, attribute, href, base, self_key, len(links)))
    return ExtractedSeed(doc, tuple(links), tuple(warnings))


def _describe(soup: BeautifulSoup, path: str, fmt: SeedFormat, encoding: str, digest: str,
              header: object) -> SeedDocument:
    from crawler.extract.formats import NewsExportHeader

    if isinstance(header, NewsExportHeader):
        address = soup.find("address")
        author = clean(address.get_text(" ")) if isinstance(address, Tag) else None
        return SeedDocument(path, fmt, encoding, digest, header.url, header.title,
                            author or None, header.published_at)
    canonical = soup.find("link", rel="canonical", href=True)
    og_url = soup.find("meta", property="og:url", content=True)
    url = None
    if isinstance(canonical, Tag):
        url = str(canonical["href"]).strip()
    elif isinstance(og_url, Tag):
        url = str(og_url["content"]).strip()
    title_tag = soup.find("title") or soup.find("h1")
    title = clean(title_tag.get_text(" ")) if isinstance(title_tag, Tag) else None
    author_meta = soup.find("meta", attrs={"name": "author"}, content=True)
    author = str(author_meta["content"]).strip() if isinstance(author_meta, Tag) else None
    return SeedDocument(path, fmt, encoding, digest, url, title or None, author,
                        _published(soup))


def _published(soup: BeautifulSoup) -> datetime | None:
    meta = soup.find("meta", property="article:published_time", content=True)
    time_tag = soup.find("time", datetime=True)
    raw = meta["content"] if isinstance(meta, Tag) else (
        time_tag["datetime"] if isinstance(time_tag, Tag) else None)
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def _base_url(soup: BeautifulSoup, doc_url: str | None) -> str | None:
    base = soup.find("base", href=True)
    if isinstance(base, Tag):
        href = str(base["href"]).strip()
        return resolve(href, doc_url).url if doc_url else href
    return doc_url


def _iter_hrefs(soup: BeautifulSoup) -> Iterator[tuple[Tag, str, str]]:
    # A plain walk in document order, as find_all(names) would give: bs4's matching
    # machinery cost more than the rest of the link work together.
    for element in soup.descendants:
        if not isinstance(element, Tag) or element.name not in _LINK_TAGS:
            continue
        if element.name == "link" and not _interesting_link_tag(element):
            continue
        for attribute in _LINK_ATTRIBUTES[element.name]:
            value = element.get(attribute)
            if not isinstance(value, str) or not value.strip():
                continue
            if attribute == "srcset":
                for candidate in _srcset_urls(value):
                    yield element, attribute, candidate
            else:
                yield element, attribute, value


def _interesting_link_tag(element: Tag) -> bool:
    """Of <link> tags only the canonical and hreflang alternates are outbound links;
    stylesheets and icons are page furniture, not citations."""
    rel: list[str] | str = element.get("rel") or []
    return "canonical" in rel or ("alternate" in rel and element.get("hreflang") is not None)


def _srcset_urls(srcset: str) -> list[str]:
    # Candidates are separated by a comma *followed by whitespace*; a bare comma may be
    # part of the URL (image proxies put whole URLs in the query).
    return [part.strip().split()[0] for part in re.split(r",\s+", srcset) if part.strip()]


def _fetchable(resolved: ResolvedURL) -> ResolvedURL:
    """resolve()'s answer, also refused when no request could be made to the URL: hosts
    such as "a b.example" or "%41.com", port 0. Kept, marked not checkable with the reason."""
    if not resolved.checkable:
        return resolved
    reason = _fetch_problem(resolved.url)
    if reason is None:
        return resolved
    return ResolvedURL(resolved.url, resolved.key, False, reason, resolved.host)


@lru_cache(maxsize=8192)  # the same cited URLs recur across a collection's seeds
def _fetch_problem(url: str) -> str | None:
    if _NOT_URL_CHARACTER.search(url):
        return "URL has whitespace, control or non-ASCII characters"
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
        normalise_key(url)
    except ValueError as exc:
        return f"unparseable URL: {exc}"
    if port == 0:
        return "port 0 cannot be connected to"
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"invalid IPv6 host {host!r}"
        return None
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return f"invalid host name {host!r}"
    return None


def _link(index: DocumentIndex, element: Tag, attribute: str, href: str, base: str | None,
          self_key: str | None, position: int) -> OutboundLink:
    resolved = _fetchable(resolve(href, base))
    rel_value: list[str] | str = element.get("rel") or []
    rel = tuple(rel_value) if isinstance(rel_value, list) else (str(rel_value),)
    name = "link/canonical" if element.name == "link" and "canonical" in rel else (
        f"{element.name}/{attribute}")
    anchor = index.anchor_text(element) if element.name in ("a", "area") else clean(
        str(element.get("alt") or ""))
    hreflang = element.get("hreflang")
    facts = LinkFacts(
        key=resolved.key, host=resolved.host, element=name, anchor_text=anchor, rel=rel,
        hreflang=str(hreflang) if hreflang else None,
        sections=index.sections(element),
        self_key=self_key)
    title = element.get("title")
    return OutboundLink(
        href=href, url=resolved.url, key=resolved.key, host=resolved.host,
        role=assign_role(facts), element=name, anchor_text=anchor,
        title=str(title) if title else None, context=index.context(element),
        position=position, checkable=resolved.checkable, reason=resolved.reason)


def _text_links(text: str) -> list[OutboundLink]:
    links = []
    for position, found in enumerate(find_bare_urls(text)):
        resolved = _fetchable(resolve(found.url, None))
        context = sentence_around(text[max(0, found.start - CONTEXT_LIMIT):found.start],
                                  text[found.start:found.end],
                                  text[found.end:found.end + CONTEXT_LIMIT])
        facts = LinkFacts(resolved.key, resolved.host, "text/url", "", (), None, (), None)
        links.append(OutboundLink(
            href=text[found.start:found.end], url=resolved.url, key=resolved.key,
            host=resolved.host, role=assign_role(facts), element="text/url", anchor_text="",
            title=None, context=context, position=position, checkable=resolved.checkable,
            reason=resolved.reason))
    return links
