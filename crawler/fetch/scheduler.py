"""What the crawl sends next: retries held aside until due, the hosts with most work first.

Scrapy has no "not before" for a request (scrapy/scrapy#802), so a retry's backoff or
Retry-After wait used to run in the retry middleware, inside `Downloader.fetch`: every
sleeping retry held one of the `CONCURRENT_REQUESTS` places, and with a few hosts failing
the downloader was full of sleepers while host slots stood idle. Here the retry
middlewares return the retry at once with its due time in `meta[NOT_BEFORE]`
(`hold_until`), and `HoldingScheduler` keeps it in a heap until then: it takes no place in
the downloader meanwhile, and counts as pending, so the spider does not close on it. When
it is due it is handed to the engine like any request (its retry priority puts it ahead of
targets not yet started), and a timer wakes the engine for it, so nothing polls.

`LongestWorkFirstQueue` changes how Scrapy's `DownloaderAwarePriorityQueue` breaks ties:
it still serves the host with the fewest requests in the downloader first (so every host
keeps its transfer places fed), but among hosts equally loaded it serves the one with the
most requests still queued or held (a failing host's retries included), where Scrapy takes
them in turn. When `CONCURRENT_REQUESTS` is the limit (more hosts than places) the hosts
with most work left get the places; when CPU is, they win every tie. Politeness is the
downloader's and is unchanged: a host slot never transfers more than its concurrency, and
the robots.txt wait happens in its middleware as before.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any, NamedTuple

from scrapy import Request, Spider
from scrapy.core.scheduler import Scheduler
from scrapy.pqueues import DownloaderAwarePriorityQueue, ScrapyPriorityQueue, _path_safe
from scrapy.utils.asyncio import CallLaterResult, call_later

# Request.meta key: time.monotonic() before which the request must not be sent.
NOT_BEFORE = "rw_not_before"
# Emptied per-host queues kept for reuse: a few hundred small objects however many hosts
# a crawl sees (an empty queue holds no request).
MAX_IDLE = 256


def hold_until(request: Request, wait: float) -> Request:
    """Mark `request` (a retry) to be sent no sooner than `wait` seconds from now."""
    if wait > 0:
        request.meta[NOT_BEFORE] = time.monotonic() + wait
    return request


class HoldingScheduler(Scheduler):
    """Scrapy's scheduler, plus a heap of requests held until their `NOT_BEFORE` time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: list[tuple[float, int, str, Request]] = []
        self._order = itertools.count()  # ties in due time keep arrival order
        self.held_per_slot: Counter[str] = Counter()
        self._timer: CallLaterResult | None = None
        self._timer_at: float | None = None

    def open(self, spider: Spider) -> Any:
        opened = super().open(spider)
        if isinstance(self.mqs, LongestWorkFirstQueue):
            self.mqs.held = self.held_per_slot  # a failing host's held retries are work too
        return opened

    def close(self, reason: str) -> Any:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return super().close(reason)

    def enqueue_request(self, request: Request) -> bool:
        due = request.meta.get(NOT_BEFORE)
        if due is None or due <= time.monotonic():
            return super().enqueue_request(request)
        slot = self._slot_key(request)
        heapq.heappush(self._held, (due, next(self._order), slot, request))
        self.held_per_slot[slot] += 1
        self._arm()
        return True

    def next_request(self) -> Request | None:
        if self._held:
            self._release_due()
        return super().next_request()

    def has_pending_requests(self) -> bool:
        # A held retry is pending: without it the engine would close an idle spider.
        return bool(self._held) or super().has_pending_requests()

    def __len__(self) -> int:
        return len(self._held) + super().__len__()

    def _slot_key(self, request: Request) -> str:
        assert self.crawler is not None and self.crawler.engine is not None
        return self.crawler.engine.downloader.get_slot_key(request)

    def _due(self) -> list[Request]:
        """Take every held request that is due off the heap."""
        now = time.monotonic()
        due = []
        while self._held and self._held[0][0] <= now:
            _, _, slot, request = heapq.heappop(self._held)
            self.held_per_slot[slot] -= 1
            if not self.held_per_slot[slot]:
                del self.held_per_slot[slot]
            due.append(request)
        return due

    def _release_due(self) -> None:
        for request in self._due():
            super().enqueue_request(request)

    def _arm(self) -> None:
        """One timer, for the earliest held request."""
        due = self._held[0][0]
        if self._timer is not None and self._timer_at is not None and self._timer_at <= due:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = due
        self._timer = call_later(max(0.0, due - time.monotonic()), self._wake)

    def _wake(self) -> None:
        self._timer = self._timer_at = None
        engine = self.crawler.engine if self.crawler is not None else None
        for request in self._due():
            # Handed to the engine (Scrapy's public way in), which queues it here again,
            # now due, and wakes itself to send it; nothing polls meanwhile.
            if engine is not None and engine.spider is not None:
                engine.crawl(request)
        if self._held:
            self._arm()


class SlotLoad(NamedTuple):
    """What the choice of the next host reads about one host slot."""

    slot: str
    active: int  # requests in the downloader's slot (transferring or waiting there)
    queued: int  # requests waiting in the scheduler, held retries included


def longest_work_first(loads: Iterable[SlotLoad], last: str | None) -> str:
    """The slot to serve next: the one with the fewest requests in the downloader, as in
    Scrapy (every host keeps its transfer places fed); among those, the one with the most
    work queued or held; among equals, the first after `last` (by name), as Scrapy
    rotates, so equal hosts take turns. The rule in its readable form: the queue uses
    `choose_slot`, the same choice in one pass (tests/test_held_retries.py holds them
    equal)."""
    best: list[str] = []
    best_key: tuple[int, int] | None = None
    for load in loads:
        key = (load.active, -load.queued)
        if best_key is None or key < best_key:
            best, best_key = [load.slot], key
        elif key == best_key:
            best.append(load.slot)
    if not best:
        raise ValueError("no slot to choose from")
    best.sort()
    if last is not None:
        for name in best:
            if name > last:
                return name
    return best[0]


def choose_slot(queued: Mapping[str, int], held: Mapping[str, int],
                slots: Mapping[str, Any], last: str | None) -> str | None:
    """`longest_work_first` over the slots with queued requests, in one pass and with no
    record per slot: `queued` counts each slot's requests in the scheduler, `slots` are
    the downloader's (each with its `active` set). None when nothing is queued.

    The pop runs once per request sent; building a `SlotLoad` per host slot (and Scrapy's
    list of (active, slot) pairs before it) cost more than the choice itself."""
    best_key = 0
    first: str | None = None  # the best slot by name
    after: str | None = None  # the best slot by name after `last`
    for slot, count in queued.items():
        downloading = slots.get(slot)
        # Fewest active first, then most work: one integer (work never reaches 2**40).
        key = ((len(downloading.active) << 40) if downloading is not None else 0) \
            - count - held.get(slot, 0)
        if first is None or key < best_key:
            best_key, first = key, slot
            after = slot if last is not None and slot > last else None
        elif key == best_key:
            if slot < first:
                first = slot
            if last is not None and slot > last and (after is None or slot < after):
                after = slot
    return after if after is not None else first


class LongestWorkFirstQueue(DownloaderAwarePriorityQueue):
    """Scrapy's per-host priority queue; at equal load, the host with most work left first.

    It counts each slot's queued requests itself (a per-slot priority queue's `len`
    sums its inner queues) and reads the downloader's slots directly."""

    held: Mapping[str, int] = {}  # set by HoldingScheduler.open: held retries per slot

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queued: dict[str, int] = {slot: len(q) for slot, q in self.pqueues.items()}
        self._total = sum(self._queued.values())
        self._downloader = self._downloader_interface.downloader
        # Memory queues emptied by pop, kept for their slot's next push (oldest first).
        self._idle: dict[str, ScrapyPriorityQueue] = {}

    def push(self, request: Request) -> None:
        slot = self._downloader.get_slot_key(request)
        queue = self.pqueues.get(slot)
        if queue is None:
            # When the downloader keeps up, a host's queue empties with every pop: a new
            # one per push cost Scrapy's pqfactory (an MD5 of the slot name for its disk
            # path, unused in memory) and more than the push itself.
            queue = self._idle.pop(slot, None)  # (an empty queue is falsy: no `or`)
            if queue is None:
                queue = self.pqfactory(slot)
            self.pqueues[slot] = queue
        queue.push(request)
        self._queued[slot] = self._queued.get(slot, 0) + 1
        self._total += 1

    def pop(self) -> Request | None:
        slot = self._choose(update_state=True)
        if slot is None:
            return None
        queue = self.pqueues[slot]
        request = queue.pop()
        self._total -= 1
        left = self._queued[slot] - 1
        if left:
            self._queued[slot] = left
            return request
        del self._queued[slot], self.pqueues[slot]
        if not self.key:
            self._keep_idle(slot, queue)
            return request
        queue.close()
        # A disk queue (JOBDIR): reclaim the slot's directory, as Scrapy does.
        with suppress(OSError):
            Path(self.key, _path_safe(slot)).rmdir()
        return request

    def _keep_idle(self, slot: str, queue: ScrapyPriorityQueue) -> None:
        """Keep an emptied memory queue for its slot, the MAX_IDLE most recent at most."""
        self._idle[slot] = queue
        if len(self._idle) > MAX_IDLE:
            oldest = next(iter(self._idle))
            self._idle.pop(oldest).close()

    def peek(self) -> Request | None:
        slot = self._choose(update_state=False)
        return None if slot is None else self.pqueues[slot].peek()

    def close(self) -> dict[str, list[int]]:
        for queue in self._idle.values():
            queue.close()
        self._idle.clear()
        self._queued.clear()
        self._total = 0
        return super().close()

    def __len__(self) -> int:
        return self._total

    def _choose(self, *, update_state: bool) -> str | None:
        chosen = choose_slot(self._queued, self.held, self._downloader.slots,
                             self._last_selected_slot)
        if update_state and chosen is not None:
            self._last_selected_slot = chosen
        return chosen
