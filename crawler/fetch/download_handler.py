"""The check crawl's HTTP(S) download handler: a time budget per target, bounded headers.

Scrapy's HTTP/1.1 handler with two limits it lacks:

1. **A deadline per target.** The first download of a target starts its clock; every
   later request of the same target (redirect hops, retries, its soft-404 probe) carries
   the deadline in `meta` and gets at most the time that is left as its download timeout.
   Past the deadline no request starts: the errback sees `TargetDeadlineExceeded`, which
   is classified as a timeout, with the hops seen so far. Without it one target could hold
   a download slot for minutes (30 s × 11 hops × retries, plus Retry-After waits).
2. **Bounded response headers.** Twisted's parser keeps every header line a server sends:
   20,000 headers, or header lines that never end, would all be kept in memory (and
   written to the WARC). Past the caps the response fails with `ResponseHeadersTooLarge`.

It also gives every request (targets, hops, retries, probes, robots.txt) Scrapy's
DEFAULT_REQUEST_HEADERS, USER_AGENT and DOWNLOAD_TIMEOUT, which the three Scrapy
middlewares that did so per request no longer do (crawler/fetch/settings.py).
"""

from __future__ import annotations

import time
from typing import Any

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import (
    HTTP11DownloadHandler,
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _LenientHTTPClientParser,
)
from scrapy.crawler import Crawler
from scrapy.http import Headers, Response
from twisted.web._newclient import HEADER, STATUS

from crawler.fetch.hops import start_clock

# Request.meta key holding the target's deadline (time.monotonic() seconds).
DEADLINE = "rw_deadline"
# Browsers give up at about 256 KiB of response headers; no real page needs more, and
# real pages send a few dozen header lines.
MAX_HEADER_BYTES = 256 * 1024
MAX_HEADER_LINES = 1000


class TargetDeadlineExceeded(Exception):
    """The target's time budget (all hops, retries and its probe) is spent."""


class ResponseHeadersTooLarge(Exception):
    """The server sent more header lines or bytes than any real page needs."""


def remaining(meta: dict[str, Any], now: float | None = None) -> float | None:
    """Seconds left of the target's budget, None when its clock has not started."""
    deadline = meta.get(DEADLINE)
    if deadline is None:
        return None
    return float(deadline) - (time.monotonic() if now is None else now)


class _BoundedHTTPClientParser(_LenientHTTPClientParser):
    """Counts the status and header lines it is given and stops past the caps.

    No __init__ and only class-level defaults: the protocol swaps a parser's class to this
    one right after creating it, as Scrapy itself does for its lenient parser.
    """

    _header_bytes = 0
    _header_lines = 0

    def lineReceived(self, line: bytes) -> None:
        if self.state in (STATUS, HEADER):
            self._header_bytes += len(line) + 1
            self._header_lines += 1
            if self._header_lines > MAX_HEADER_LINES or self._header_bytes > MAX_HEADER_BYTES:
                # HTTP11ClientProtocol.dataReceived turns this into a failed response and
                # drops the connection: nothing more is read.
                raise ResponseHeadersTooLarge(
                    f"response headers over the cap ({self._header_lines} lines, "
                    f"{self._header_bytes} bytes; at most {MAX_HEADER_LINES} lines and "
                    f"{MAX_HEADER_BYTES} bytes)")
        super().lineReceived(line)


class _BoundedHTTP11ClientProtocol(_LenientHTTP11ClientProtocol):
    def request(self, request: Any) -> Any:
        deferred = super().request(request)
        assert self._parser is not None  # request() always creates one (see Scrapy's note)
        self._parser.__class__ = _BoundedHTTPClientParser
        return deferred


class _BoundedHTTP11ClientFactory(_LenientHTTP11ClientFactory):
    def buildProtocol(self, addr: Any) -> Any:
        return _BoundedHTTP11ClientProtocol(self._quiescentCallback)


class CheckDownloadHandler(HTTP11DownloadHandler):
    """http and https downloads of the check crawl, within each target's budget."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self._pool._factory = _BoundedHTTP11ClientFactory
        settings = crawler.settings
        self.budget = settings.getfloat("ROTWATCH_TARGET_BUDGET")
        self.timeout = settings.getfloat("DOWNLOAD_TIMEOUT")
        # In the order the middlewares added them: the default headers, then User-Agent;
        # name and value as Scrapy's Headers keep them (normalised once here, not per
        # request by Headers.setdefault).
        normal = Headers()
        self.default_headers = [(normal.normkey(name), normal.normvalue(value))
                                for name, value in (
                                    *settings.getdict("DEFAULT_REQUEST_HEADERS").items(),
                                    ("User-Agent", settings.get("USER_AGENT"))) if value]

    async def download_request(self, request: Request) -> Response:
        headers = request.headers
        for name, value in self.default_headers:
            # A request's own value stays; each request gets a list of its own.
            dict.setdefault(headers, name, list(value))
        now = time.monotonic()
        # The clock starts with the first byte we ask for, not while the target waits in
        # the scheduler: time in the queue costs the server nothing.
        request.meta.setdefault(DEADLINE, now + self.budget)
        start_clock(request, now)
        left = remaining(request.meta, now)
        assert left is not None
        if left <= 0:
            raise TargetDeadlineExceeded(
                f"time budget of {self.budget:g} s per target spent before {request.url}")
        configured = float(request.meta.get("download_timeout") or self.timeout)
        request.meta["download_timeout"] = max(0.05, min(configured, left))
        return await super().download_request(request)
