"""Soft-404 probe URLs: the surely-missing sibling of a target, by path or by its id parameter.

Pure functions. A site that answers 200 for pages that do not exist answers the same for a
made-up sibling; comparing the target with that sibling's answer (crawler/verdict.py)
reveals it. Most sites address a page by its path, so the sibling is the path with the last
segment replaced. Some address it by a query parameter (`watch?v=ID`, `item.php?id=N`,
`/?p=123`): there a made-up *path* is an honest 404 that says nothing, and the sibling must
be the same path with a made-up value for the identifying parameter.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from core.urls import normalise_key
from core.verdict_patterns import EXTENSION, TOKEN

# Query parameters that name the page itself on common sites and CMSs (YouTube's v,
# WordPress's p and page_id, forum and shop item ids…). Matched case-insensitively.
ID_PARAMETERS = frozenset({
    "v", "id", "p", "page_id", "pid", "item", "itemid", "item_id", "article", "articleid",
    "article_id", "story", "storyid", "story_id", "sid", "aid", "vid", "video", "video_id",
    "post", "postid", "post_id", "doc", "docid", "doc_id", "nid", "tid", "cid", "showtopic",
    "thread", "topic",
})
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


@lru_cache(maxsize=4096)
def canonical_url(url: str) -> str:
    """The URL's de-duplication key, or the URL itself when it cannot be parsed."""
    # Cached: the verdict asks for the same URLs (hops, the host's probe) over and over.
    try:
        return normalise_key(url)[0]
    except (ValueError, UnicodeError):
        return url


def identifying_parameter(url: str) -> str | None:
    """The query parameter that names the page (`v` in `watch?v=ID`), if there is one.

    Only well-known id names count: guessing from the value's shape took tracking and
    session parameters for ids. Even a well-known name may be ignored by a site, which is
    why the verdict also looks at the page without it (`without_parameter`).
    """
    pairs = parse_qsl(urlsplit(canonical_url(url)).query, keep_blank_values=True)
    for name, value in pairs:
        if name.lower() in ID_PARAMETERS and value:
            return name
    return None


def without_parameter(url: str) -> str | None:
    """`url` without its identifying parameter (None when it has none): what the site serves
    when the parameter is missing tells whether it names the page at all."""
    name = identifying_parameter(url)
    if name is None:
        return None
    parts = urlsplit(canonical_url(url))
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(pairs), ""))


def probe_url(url: str, token: str) -> str:
    """The surely-missing sibling of `url`.

    With an identifying query parameter: same URL, that parameter's value replaced by a
    made-up one of the same shape (digits stay digits, the length is kept), other
    parameters kept. Otherwise: same scheme, host, port and parent path, last segment
    replaced by `rotwatch-probe-<token>` (file extension or trailing slash kept), query and
    fragment dropped. `token` must be 1-64 of [A-Za-z0-9-].
    """
    if not TOKEN.fullmatch(token):
        raise ValueError(f"probe token must be 1-64 letters, digits or '-': {token!r}")
    parts = urlsplit(canonical_url(url))
    name = identifying_parameter(url)
    if name is not None:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = urlencode([(k, _made_up(v, token) if k == name else v) for k, v in pairs])
        return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))
    parent, _, suffix = _split_last(parts.path or "/")
    path = f"{parent}rotwatch-probe-{token}{suffix}"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def probe_key(url: str) -> str:
    """Cache key of the probe for `url`, e.g. "https://example.com/news/*.html" or
    "https://video.example/watch?v=*" ("#" for a numeric id). Two URLs share a key exactly
    when they share a probe URL."""
    parts = urlsplit(canonical_url(url))
    name = identifying_parameter(url)
    if name is not None:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        others = urlencode([(k, _shape(v) if k == name else v) for k, v in pairs], safe="*#")
        return f"{parts.scheme}://{parts.netloc}{parts.path or '/'}?{others}"
    parent, _, suffix = _split_last(parts.path or "/")
    return f"{parts.scheme}://{parts.netloc}{parent}*{suffix}"


def _made_up(value: str, token: str) -> str:
    """A value no page has, of the same kind as `value` (a number for a number): derived
    from the run's token only, so every target with the same probe key gets the same probe.
    Ids are usually checked for their kind before they are looked up; a letter where a
    number belongs could earn an "invalid request" page instead of the site's missing page."""
    digest = hashlib.sha256(f"rotwatch-probe:{token}".encode()).digest()
    if _shape(value) == "#":
        # Fifteen digits led by 9s: far past any id in use.
        return "999" + "".join(str(b % 10) for b in digest[:12])
    return "zz" + "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:9])


def _shape(value: str) -> str:
    return "#" if value.isdigit() else "*"


def _split_last(path: str) -> tuple[str, str, str]:
    """(parent, last segment, suffix) where suffix is "/" for a directory-style path."""
    trailing = "/" if path.endswith("/") and path.strip("/") else ""
    body = path.rstrip("/") if trailing else path
    parent, _, last = body.rpartition("/")
    ext = EXTENSION.search(last)
    suffix = trailing or (ext.group(0) if ext and ext.start() > 0 else "")
    return (parent or "") + "/", last, suffix
