"""Lower the concurrency of hosts that would finish early, while the crawl runs.

Every PERIOD_S the extension reads each host's remaining work (its due targets not yet
handed to the crawl, `HostFeed`; the requests in the scheduler's queue, held for a retry or
in the downloader) and its retry rate (counted by the retry middleware, `RetryTally`),
asks core.pacing how many requests each host needs in flight to finish with the slowest,
and sets the downloader slot's concurrency to that (a fraction as whole numbers that
average to it over periods). A slot's
concurrency only ever goes down from CONCURRENT_REQUESTS_PER_DOMAIN and back up to it:
politeness is unchanged (robots.txt probes and soft-404 probes have slots of their own,
left alone). Why: at 2 per host the crawl is CPU-bound and every request in flight adds
latency to all the others, so hosts with less work left than the slowest (e.g. the hosts
whose 500s are retried) gave CPU away from the critical path (docs/benchmarks.md, "Fifth
issue-13 round").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Self
from weakref import WeakKeyDictionary

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.utils.asyncio import create_looping_call
from scrapy.utils.httpobj import urlparse_cached

from core.pacing import HostWork, dither, paced_concurrency

# Settings: whether the crawl paces its hosts (a check crawl does; see settings.py), and
# its HostFeed (a live object, set on the crawler by the application).
PACING = "ROTWATCH_PACING"
FEED = "ROTWATCH_HOST_FEED"
PERIOD_S = 0.5
# Beyond this many hosts in a crawl the pacing stands aside (every slot at the cap): with
# many hosts, concurrency_total binds before the per-host limit does, and a tick would
# cost CPU in proportion to the hosts.
MAX_PACED_HOSTS = 256


class HostFeed:
    """A crawl's due targets per host and those handed to it so far (the target stream
    counts them). `due` may be filled after the crawl starts, or stay empty: then only
    the work already in the crawl counts."""

    def __init__(self, due: Mapping[str, int]) -> None:
        self.due = due
        self.fed: Counter[str] = Counter()

    def unfed(self, host: str) -> int:
        return max(0, self.due.get(host, 0) - self.fed[host])


class RetryTally:
    """Requests answered per downloader slot, and how many of them were not a target's
    first request (a retry, a redirect's next hop, robots.txt), counted by the retry
    middleware as each answer (or failure) comes in."""

    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()

    def count(self, request: Request) -> None:
        slot = self.slot(request)
        self.attempts[slot] += 1
        meta = request.meta
        if meta.get("retry_times") or not meta.get("is_start_request"):
            self.retries[slot] += 1

    @staticmethod
    def slot(request: Request) -> str:
        # As Scrapy's Downloader.get_slot_key (no IP concurrency in a check crawl).
        meta_slot: str | None = request.meta.get("download_slot")
        return meta_slot if meta_slot is not None else urlparse_cached(request).hostname or ""


_TALLIES: WeakKeyDictionary[Crawler, RetryTally] = WeakKeyDictionary()


def tally_of(crawler: Crawler) -> RetryTally | None:
    """The crawl's tally if it paces its hosts, else None (nothing to count)."""
    if not crawler.settings.getbool(PACING):
        return None
    tally = _TALLIES.get(crawler)
    if tally is None:
        tally = _TALLIES[crawler] = RetryTally()
    return tally


class HostPacing:
    """Scrapy extension: every PERIOD_S, each target host's concurrency (core.pacing)."""

    def __init__(self, crawler: Crawler, tally: RetryTally) -> None:
        self.crawler = crawler
        self.tally = tally
        self.cap = crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        feed = crawler.settings.get(FEED)
        self.feed: HostFeed = feed if isinstance(feed, HostFeed) else HostFeed({})
        self.credit: dict[str, float] = {}
        self.paced = False  # whether a slot may be below the cap
        self.task: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        from scrapy.exceptions import NotConfigured

        tally = tally_of(crawler)
        if tally is None or crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") <= 1:
            raise NotConfigured
        pacing = cls(crawler, tally)
        crawler.signals.connect(pacing.opened, signal=signals.spider_opened)
        crawler.signals.connect(pacing.closed, signal=signals.spider_closed)
        return pacing

    def opened(self, spider: Any) -> None:
        self.task = create_looping_call(self.pace)
        self.task.start(PERIOD_S, now=False)

    def closed(self, spider: Any) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        self.task = None

    def pace(self) -> None:
        engine = self.crawler.engine
        if engine is None:
            return
        slots = engine.downloader.slots
        scheduler = engine.scheduler
        queues = getattr(getattr(scheduler, "mqs", None), "pqueues", {})
        held = getattr(scheduler, "held_per_slot", {})
        pending: Counter[str] = Counter()
        for key, queue in queues.items():
            pending[key] += len(queue)
        for key, count in held.items():
            pending[key] += count
        for key, slot in slots.items():
            pending[key] += len(slot.active)
        feed = self.feed
        if len(feed.due) > MAX_PACED_HOSTS or len(pending) > MAX_PACED_HOSTS:
            self._unpace(slots)
            return
        for host in feed.due:
            pending[host] += 0  # a host with nothing in the crawl yet
        attempts, retries = self.tally.attempts, self.tally.retries
        # Only target hosts: probe slots (meta download_slot) keep their own settings.
        wanted, self.credit = dither(paced_concurrency(
            [HostWork(key, n, feed.unfed(key), attempts[key], retries[key])
             for key, n in pending.items() if not _probe_slot(key)], self.cap), self.credit)
        for key, slot in slots.items():
            if _probe_slot(key):
                continue
            concurrency = wanted.get(key, self.cap)
            if slot.concurrency != concurrency:
                slot.concurrency = concurrency
        self.paced = True

    def _unpace(self, slots: Mapping[str, Any]) -> None:
        if self.paced:
            for key, slot in slots.items():
                if not _probe_slot(key):
                    slot.concurrency = self.cap
            self.paced = False


def _probe_slot(key: str) -> bool:
    return key.startswith("rotwatch-probe:")
