"""Web-archive clients: Memento TimeMap and TimeGate (RFC 7089), Wayback availability, and a
Save-Page-Now style capture request. Polite (paced per endpoint), retried with tenacity
within a deadline, each request guarded and capped by rotwatch/webarchive_http.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote, urljoin

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from core.memento import (
    Memento,
    format_http_date,
    http_date,
    mementos,
    nearest,
    parse_availability,
    parse_links,
    wayback_timestamp,
)
from core.urls import resolve
from rotwatch.webarchive_http import FetchError, Pacer, Reply, fetch


class SuggestOptions(Protocol):
    """What the clients read of the `[suggest]` config."""

    memento_timemap: str | None
    memento_timegate: str | None
    wayback_availability: str | None
    save_endpoint: str | None
    timeout: float
    max_response_kb: int
    min_interval: float
    retries: int
    save_min_interval: float
    allow_private_addresses: bool


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, FetchError) and exc.transient


class WebArchives:
    """The configured endpoints; every call gives up by `deadline` (time.monotonic)."""

    def __init__(self, options: SuggestOptions, deadline: float,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.options, self.deadline, self.clock, self.sleep = options, deadline, clock, sleep
        self.pacer = Pacer(options.min_interval, clock, sleep)
        self.save_pacer = Pacer(options.save_min_interval, clock, sleep)

    def sources(self) -> list[tuple[str, str]]:
        """(source, endpoint) of each look-up that is switched on, in the order asked."""
        o = self.options
        found = [("memento", o.memento_timemap), ("memento-timegate", o.memento_timegate),
                 ("wayback", o.wayback_availability)]
        return [(name, endpoint) for name, endpoint in found if endpoint]

    def _get(self, url: str, pacer: Pacer, **kw: Any) -> Reply:
        o = self.options

        def attempt() -> Reply:
            left = self.deadline - self.clock()
            if left <= 0:
                raise FetchError("the look-up time budget is spent")
            return fetch(url, timeout=min(o.timeout, left), max_bytes=o.max_response_kb * 1024,
                         allow_private=o.allow_private_addresses, pacer=pacer, **kw)

        retrying = Retrying(retry=retry_if_exception(_transient), reraise=True,
                            stop=stop_after_attempt(o.retries + 1),
                            wait=wait_exponential(multiplier=0.5, max=8), sleep=self.sleep)
        return retrying(attempt)

    def find(self, source: str, endpoint: str, url: str, near: datetime) -> Memento | None:
        """The copy of `url` nearest `near` in one archive, or None; FetchError if no answer."""
        if source == "memento":
            reply = self._get(endpoint + url, self.pacer)
            if reply.status == 404:
                return None
            _expect_ok(reply, endpoint)
            return nearest(mementos(parse_links(reply.text())), near)
        if source == "memento-timegate":
            return self._timegate(endpoint, url, near)
        query = f"?url={quote(url, safe='')}&timestamp={wayback_timestamp(near)}"
        reply = self._get(endpoint + query, self.pacer)
        _expect_ok(reply, endpoint)
        return parse_availability(reply.text())

    def _timegate(self, endpoint: str, url: str, near: datetime) -> Memento | None:
        reply = self._get(endpoint + url, self.pacer,
                          headers={"Accept-Datetime": format_http_date(near)})
        if reply.status == 404:
            return None
        if 300 <= reply.status < 400:
            location = reply.header("Location")
            if not location:
                raise FetchError(f"{endpoint} redirected without a Location")
            target = urljoin(endpoint, location)
            listed = [m for m in mementos(parse_links(reply.header("Link") or ""))
                      if m.url == resolve(target, None).url]
            if listed:
                return listed[0]
            memento = self._get(target, self.pacer, method="HEAD")
            at = http_date(memento.header("Memento-Datetime") or "")
        else:
            _expect_ok(reply, endpoint)  # a TimeGate that is also the memento (200)
            at = http_date(reply.header("Memento-Datetime") or "")
            target = urljoin(endpoint, reply.header("Content-Location") or endpoint + url)
        web = resolve(target, None)
        return Memento(web.url, at) if at is not None and web.checkable else None

    def save(self, url: str) -> str | None:
        """Ask the capture endpoint to archive `url`; the new copy's URL if it says."""
        endpoint = self.options.save_endpoint
        if not endpoint:
            raise FetchError("no [suggest] save_endpoint is configured")
        reply = self._get(endpoint + url, self.save_pacer)
        if reply.status >= 400:
            raise FetchError(f"{endpoint} answered HTTP {reply.status}")
        where = reply.header("Content-Location") or reply.header("Location")
        return resolve(urljoin(endpoint, where), None).url if where else None


def _expect_ok(reply: Reply, endpoint: str) -> None:
    if reply.status != 200:
        raise FetchError(f"{endpoint} answered HTTP {reply.status}")
