"""A small HTTP client for web-archive endpoints: address-guarded, size-capped, paced.

This is fetching outside the crawl (no Scrapy, no reactor), so it keeps the crawl's
rules itself: only http(s); the host's addresses are resolved once, every one must be
public (core.urls.is_public_address) unless private addresses are allowed, and the
connection goes to the address that was checked; redirects are not followed (the callers
read Location themselves); strict timeouts and a cap on the body; at most one request
per `min_interval` seconds to one endpoint host.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.urls import is_public_address

USER_AGENT = "rotwatch/0.1 (link-rot checker; web-archive look-up)"


class FetchError(Exception):
    """No usable answer; `transient` ones (timeouts, 5xx, 429) are worth a retry."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Reply:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class Pacer:
    """At most one request per `interval` seconds to each key (an endpoint's host)."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval, self.clock, self.sleep = interval, clock, sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            start = max(now, self._next.get(key, now))
            self._next[key] = start + self.interval
        if start > now:
            self.sleep(start - now)


class _Pinned(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever the name resolves to later."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def _address(host: str, port: int, allow_private: bool) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host}: {exc}", transient=True) from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise FetchError(f"{host} has no address")
    if not allow_private:
        refused = [a for a in addresses if not is_public_address(a)]
        if refused:
            raise FetchError(f"{host} resolves to a non-public address ({refused[0]}); "
                             "refused like the crawl refuses it")
    return addresses[0]


def fetch(url: str, *, timeout: float, max_bytes: int, allow_private: bool,
          method: str = "GET", headers: Mapping[str, str] | None = None,
          pacer: Pacer | None = None) -> Reply:
    """One request, no redirects followed. Raises FetchError with the cause."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = _address(parts.hostname, port, allow_private)
    if pacer is not None:
        pacer.wait(parts.netloc.lower())
    kind = _PinnedTLS if parts.scheme == "https" else _Pinned
    conn = kind(parts.hostname, port, address, timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    deadline = time.monotonic() + timeout
    try:
        conn.request(method, path, headers={"User-Agent": USER_AGENT, **(headers or {})})
        response = conn.getresponse()
        body = bytearray()
        while len(body) <= max_bytes:
            if time.monotonic() > deadline:
                raise FetchError(f"{parts.netloc} took longer than {timeout:g} s", True)
            chunk = response.read(min(65536, max_bytes + 1 - len(body)))
            if not chunk:
                break
            body += chunk
        if len(body) > max_bytes:
            raise FetchError(f"{parts.netloc} answered more than {max_bytes} bytes")
        reply = Reply(response.status, tuple(response.getheaders()), bytes(body))
    except (OSError, http.client.HTTPException) as exc:
        raise FetchError(f"{parts.netloc}: {type(exc).__name__}: {exc}", True) from None
    finally:
        conn.close()
    if reply.status == 429 or reply.status >= 500:
        raise FetchError(f"{parts.netloc} answered HTTP {reply.status}", True)
    return reply
