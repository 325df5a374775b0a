"""The size cap: a download stops at `ROTWATCH_MAX_BYTES` and arrives cut, not failed.

Scrapy's own limit (DOWNLOAD_MAXSIZE) fails the download, which would turn a large page
into an error instead of a check of what it starts with; it is disabled in the settings.
"""

from __future__ import annotations

from typing import Any, Self
from weakref import WeakKeyDictionary

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import StopDownload
from scrapy.http import Response


def truncated(response: Response, max_bytes: int) -> bool:
    """Whether the response was cut at the cap (its body may run one chunk past it)."""
    return "download_stopped" in response.flags or len(response.body) > max_bytes


class SizeCapMiddleware:
    """Counts the bytes of each download and stops it past the cap (every request: targets,
    hops, retries, probes and robots.txt)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        # Per attempt: a retry is a new Request, so its count starts afresh (at its first
        # chunk: no process_request here, which Scrapy would call for every request).
        self._received: WeakKeyDictionary[Request, int] = WeakKeyDictionary()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        middleware = cls(crawler.settings.getint("ROTWATCH_MAX_BYTES"))
        # Held strongly (the middleware lives as long as the crawl): no weak reference to
        # resolve on each chunk's dispatch. Scrapy sends bytes_received whether or not
        # anything listens, and it is the one way to cut a download and keep what came.
        crawler.signals.connect(middleware.count, signal=signals.bytes_received, weak=False)
        return middleware

    def count(self, data: bytes, request: Request, spider: Any) -> None:
        received = self._received.get(request, 0) + len(data)
        self._received[request] = received
        if received > self.max_bytes:
            # fail=False: the response arrives, cut, and is recorded as truncated.
            raise StopDownload(fail=False)
