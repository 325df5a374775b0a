"""Resolve, normalise and classify URLs. Pure functions: no I/O."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urljoin, urlsplit, urlunsplit

from w3lib.url import safe_url_string

CHECKABLE_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NEVER_CHECKED = {
    "mailto": "mailto: address, not a web page",
    "tel": "telephone number, not a web page",
    "javascript": "javascript: pseudo-link",
    "data": "inline data: URL",
    "sms": "sms: link, not a web page",
    "about": "about: URL",
    "file": "local file URL",
}


@dataclass(frozen=True)
class ResolvedURL:
    """An href resolved against its document: where it points, and whether we can check it."""

    url: str
    key: str
    checkable: bool
    reason: str | None
    host: str


def resolve(href: str, base: str | None) -> ResolvedURL:
    """Resolve `href` against `base` and decide whether it can be checked over HTTP(S).

    Never raises: an unparseable href comes back not checkable with the reason.
    """
    cleaned = href.strip()
    if not cleaned:
        return ResolvedURL(href, href, False, "empty href", "")
    scheme = cleaned.split(":", 1)[0].lower() if ":" in cleaned else ""
    if scheme in _NEVER_CHECKED:
        return ResolvedURL(cleaned, cleaned, False, _NEVER_CHECKED[scheme], "")
    try:
        absolute = urljoin(base, cleaned) if base else cleaned
    except (ValueError, UnicodeError) as exc:
        return ResolvedURL(cleaned, cleaned, False, f"unparseable URL: {exc}", "")
    resolved = _resolve_absolute(absolute)
    if isinstance(resolved, str):
        return ResolvedURL(cleaned, cleaned, False, resolved, "")
    return resolved


# Per process: a seed collection cites the same pages (the site's own sections, its
# authors, the agencies it quotes) over and over, and w3lib's quoting costs as much as
# parsing the rest of the link. Bounded, so a million distinct URLs cost no more memory.
_CACHE_SIZE = 8192


@lru_cache(maxsize=_CACHE_SIZE)
def _resolve_absolute(absolute: str) -> ResolvedURL | str:
    """resolve() of an absolute (or base-less) href; a str is why it cannot be parsed."""
    try:
        key, host = normalise_key(absolute)
        parts = urlsplit(absolute)
        fetch_url = safe_url_string(absolute)
    except (ValueError, UnicodeError) as exc:
        return f"unparseable URL: {exc}"
    if parts.scheme.lower() not in CHECKABLE_SCHEMES:
        reason = (
            "relative link with no base URL"
            if not parts.scheme
            else f"{parts.scheme}: URLs are not checked"
        )
        return ResolvedURL(absolute, key, False, reason, host)
    if not host:
        return ResolvedURL(absolute, key, False, "URL has no host", host)
    return ResolvedURL(fetch_url, key, True, None, host)


@lru_cache(maxsize=_CACHE_SIZE)
def normalise_key(url: str) -> tuple[str, str]:
    """The de-duplication key of a URL and its host.

    Lower-case scheme and host, IDNA host, default port dropped, empty path as "/",
    fragment dropped. The query is kept verbatim: for an image proxy such as
    `images.weserv.nl/?url=...` the query *is* the resource.
    """
    parts = urlsplit(safe_url_string(url) if "://" in url else url)
    scheme = parts.scheme.lower()
    host = _idna_host(parts.hostname or "")
    port = parts.port  # raises ValueError on a bad port, which callers report
    netloc = host
    if ":" in host and not host.startswith("["):
        netloc = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    path = parts.path or ("/" if scheme in CHECKABLE_SCHEMES else "")
    return urlunsplit((scheme, netloc, path, parts.query, "")), host


def _idna_host(host: str) -> str:
    host = host.strip(".").lower()
    if not host or host.isascii():
        return host
    return host.encode("idna").decode("ascii")


def host_of(url: str) -> str:
    try:
        return _idna_host(urlsplit(url).hostname or "")
    except (ValueError, UnicodeError):
        return ""


# IPv6 ranges that embed an IPv4 address in their last 32 bits: NAT64 (RFC 6052, well-known
# prefix; RFC 8215 local-use prefix, whose /96 form is what DNS64 resolvers synthesise),
# IPv4-mapped and IPv4-translated (RFC 2765). A packet to one of these reaches the IPv4
# address inside, so that address decides; `ipaddress` judges only the outer range and
# calls 64:ff9b::127.0.0.1 global.
_EMBEDS_LAST_32 = tuple(ipaddress.IPv6Network(net) for net in (
    "64:ff9b::/96", "64:ff9b:1::/48", "::ffff:0:0/96", "::ffff:0:0:0/96"))
# IPv4-compatible ::a.b.c.d (deprecated by RFC 4291 in 2006): no resolver answers it for a
# real site, and old stacks tunnel it to the IPv4 address inside. Refused whatever it holds.
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# Not globally reachable (IANA special-purpose registry), but global for Python 3.11's
# table: site-local (RFC 3879), documentation (RFC 9637), SRv6 segment IDs (RFC 9602).
_NOT_GLOBAL_V6 = tuple(ipaddress.IPv6Network(net) for net in (
    "fec0::/10", "3fff::/20", "5f00::/16"))


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified addresses.

    An IPv6 address that carries an IPv4 address (NAT64, 6to4, Teredo, IPv4-mapped) is
    judged by the IPv4 address inside as well, since that is where its packets end up.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv4Address):
        return _is_global(ip)
    return _is_public_v6(ip)


def _is_public_v6(ip: ipaddress.IPv6Address) -> bool:
    if any(ip in net for net in _EMBEDS_LAST_32):
        return _is_global(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip in _IPV4_COMPATIBLE or any(ip in net for net in _NOT_GLOBAL_V6):
        return False
    if ip.teredo is not None:
        # Teredo (2001::/32) reaches the client through the server: both must be public.
        # `ipaddress` already undoes the obfuscation of the client address.
        server, client = ip.teredo
        return _is_global(server) and _is_global(client)
    if ip.sixtofour is not None and not _is_global(ip.sixtofour):
        return False  # 6to4 (2002::/16): the tunnel ends at the IPv4 address inside
    return _is_global(ip)


def _is_global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # ipaddress calls global-scope multicast (224.0.1.0/24, ff0e::/16) global; no web
    # server answers there.
    return ip.is_global and not ip.is_multicast
