"""Extraction: one seed document in, its SeedDocument and every outbound link out.

A pure function of (bytes, path): no file system, no network, no clock. Reading files
and walking directories is the caller's job (crawler/seeds.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import datetime

from bs4 import BeautifulSoup, Tag
from bs4.element import NavigableString

from crawler.decoding import decode_seed
from crawler.documents import ExtractedSeed, OutboundLink, Role, SeedDocument, SeedFormat
from crawler.formats import detect_format, find_bare_urls, markdown_to_html, parse_news_export
from crawler.roles import LinkFacts, assign_role
from crawler.urls import resolve

# (tag, attribute) pairs that point at another resource, in the order they are read.
_LINK_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "a": ("href",), "area": ("href",), "img": ("src", "srcset"), "source": ("src", "srcset"),
    "video": ("src", "poster"), "audio": ("src",), "iframe": ("src",), "embed": ("src",),
    "track": ("src",), "link": ("href",),
}
_BLOCKS = frozenset({"p", "li", "td", "th", "dd", "dt", "blockquote", "figcaption", "figure",
                     "h1", "h2", "h3", "h4", "h5", "h6", "pre", "caption", "address",
                     "footer", "section", "article", "div", "body", "header", "nav", "aside"})
_SENTENCE_END = re.compile(r"[。！？!?]|\.(?=\s)|\n\s*\n")
_SPACES = re.compile(r"\s+")
_CONTEXT_LIMIT = 400


def extract(data: bytes, path: str, fmt: SeedFormat | None = None) -> ExtractedSeed:
    """Parse one seed. Raises SeedError only when the bytes are not a text document at all."""
    text, encoding = decode_seed(data, path)
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
        resolved = resolve(doc.url, None)
        self_key = resolved.key
        if header:
            links.append(OutboundLink(
                href=header.url, url=resolved.url, key=resolved.key, host=resolved.host,
                role=Role.SELF, element="title-link", anchor_text=header.title, title=None,
                context=header.title, position=0, checkable=resolved.checkable,
                reason=resolved.reason))
    base = _base_url(soup, doc.url)
    for element, attribute, href in _iter_hrefs(soup):
        links.append(_link(element, attribute, href, base, self_key, len(links)))
    return ExtractedSeed(doc, tuple(links), tuple(warnings))


def _describe(soup: BeautifulSoup, path: str, fmt: SeedFormat, encoding: str, digest: str,
              header: object) -> SeedDocument:
    from crawler.formats import NewsExportHeader

    if isinstance(header, NewsExportHeader):
        address = soup.find("address")
        author = _clean(address.get_text(" ")) if isinstance(address, Tag) else None
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
    title = _clean(title_tag.get_text(" ")) if isinstance(title_tag, Tag) else None
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
    for element in soup.find_all(list(_LINK_ATTRIBUTES)):
        if not isinstance(element, Tag):
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


def _link(element: Tag, attribute: str, href: str, base: str | None, self_key: str | None,
          position: int) -> OutboundLink:
    resolved = resolve(href, base)
    rel_value: list[str] | str = element.get("rel") or []
    rel = tuple(rel_value) if isinstance(rel_value, list) else (str(rel_value),)
    name = "link/canonical" if element.name == "link" and "canonical" in rel else (
        f"{element.name}/{attribute}")
    anchor = _clean(element.get_text(" ")) if element.name in ("a", "area") else _clean(
        str(element.get("alt") or ""))
    hreflang = element.get("hreflang")
    facts = LinkFacts(
        key=resolved.key, host=resolved.host, element=name, anchor_text=anchor, rel=rel,
        hreflang=str(hreflang) if hreflang else None,
        sections=tuple(parent.name for parent in element.parents if parent.name),
        self_key=self_key)
    title = element.get("title")
    return OutboundLink(
        href=href, url=resolved.url, key=resolved.key, host=resolved.host,
        role=assign_role(facts), element=name, anchor_text=anchor,
        title=str(title) if title else None, context=_context(element),
        position=position, checkable=resolved.checkable, reason=resolved.reason)


def _context(element: Tag) -> str:
    """The sentence around the link, from its enclosing block (works for Chinese too)."""
    block = next((p for p in element.parents if p.name in _BLOCKS), None)
    if block is None:
        return ""
    before: list[str] = []
    for node in element.previous_elements:
        if node is block:
            break
        if isinstance(node, NavigableString) and not _is_inside(node, element):
            before.append(str(node))
    prefix = "".join(reversed(before))
    if block.name in ("body", "section", "article", "div"):
        prefix = prefix[-_CONTEXT_LIMIT:]
    own = element.get_text() if element.name in ("a", "area") else ""
    following: list[str] = []
    size = 0
    for node in element.next_elements:
        if isinstance(node, NavigableString) and not _is_inside(node, element):
            if not _is_inside(node, block):
                break
            following.append(str(node))
            size += len(node)
            if size > _CONTEXT_LIMIT:
                break
    return sentence_around(prefix, own, "".join(following))


def _is_inside(node: object, ancestor: Tag) -> bool:
    parent = getattr(node, "parent", None)
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.parent
    return False


def sentence_around(before: str, own: str, after: str) -> str:
    """The sentence containing `own`, given the text before and after it."""
    start = 0
    for match in _SENTENCE_END.finditer(before):
        start = match.end()
    end_match = _SENTENCE_END.search(after)
    tail = after[: end_match.end()] if end_match else after
    sentence = _clean(before[start:] + own + tail)
    if len(sentence) > _CONTEXT_LIMIT:
        sentence = sentence[: _CONTEXT_LIMIT - 1] + "…"
    return sentence


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _text_links(text: str) -> list[OutboundLink]:
    links = []
    for position, found in enumerate(find_bare_urls(text)):
        resolved = resolve(found.url, None)
        context = sentence_around(text[max(0, found.start - _CONTEXT_LIMIT):found.start],
                                  text[found.start:found.end],
                                  text[found.end:found.end + _CONTEXT_LIMIT])
        facts = LinkFacts(resolved.key, resolved.host, "text/url", "", (), None, (), None)
        links.append(OutboundLink(
            href=text[found.start:found.end], url=resolved.url, key=resolved.key,
            host=resolved.host, role=assign_role(facts), element="text/url", anchor_text="",
            title=None, context=context, position=position, checkable=resolved.checkable,
            reason=resolved.reason))
    return links
