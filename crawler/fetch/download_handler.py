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
    """Stops past the caps on the status and header lines it is given.

    Counted per chunk, not per line (a Python call on each of the ~10 header lines of every
    response; 5 µs of a response's 40 µs parse): while the headers are being read,
    each chunk's bytes and line ends are added up in C. Those sums are upper bounds of the
    header's (a chunk may also hold the start of the body), so under both caps nothing
    can be over; only when a sum passes a cap does the parser count line by line
    (`_LineCountingParser`), from the exact counts so far, and fail when the header
    itself is over.

    No __init__ and only class-level defaults: the protocol swaps a parser's class to this
    one right after creating it, as Scrapy itself does for its lenient parser.
    """

    _header_bytes = 0  # bytes of the status and header lines so far (upper bound)
    _header_lines = 0  # line ends among them
    _tail = 0  # bytes after the last line end (a line not yet complete)

    def dataReceived(self, data: bytes) -> None:
        if self.state in (STATUS, HEADER):
            lines = self._header_lines + data.count(b"\n")
            size = self._header_bytes + len(data)
            if lines > MAX_HEADER_LINES or size > MAX_HEADER_BYTES:
                # Only the whole lines seen so far were header lines for sure.
                self._header_bytes -= self._tail
                self.__class__ = _LineCountingParser
            else:
                end = data.rfind(b"\n")
                self._tail = self._tail + len(data) if end < 0 else len(data) - end - 1
                self._header_lines, self._header_bytes = lines, size
        super().dataReceived(data)


class _LineCountingParser(_BoundedHTTPClientParser):
    """The header caps counted line by line, for a response near or past them."""

    def dataReceived(self, data: bytes) -> None:
        _LenientHTTPClientParser.dataReceived(self, data)

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
        meta = request.meta
        for name, value in self.default_headers:
            # A request's own value stays; each request gets a list of its own.
            dict.setdefault(headers, name, list(value))
        now = time.monotonic()
        # The clock starts with the first byte we ask for, not while the target waits in
        # the scheduler: time in the queue costs the server nothing.
        meta.setdefault(DEADLINE, now + self.budget)
        start_clock(request, now)
        left = remaining(meta, now)
        assert left is not None
        if left <= 0:
            raise TargetDeadlineExceeded(
                f"time budget of {self.budget:g} s per target spent before {request.url}")
        configured = float(meta.get("download_timeout") or self.timeout)
        meta["download_timeout"] = max(0.05, min(configured, left))
        return await super().download_request(request)
