"""How many bytes of page bodies a crawl's Recorder holds, and a wait for room.

The reactor hands bodies to the Recorder's worker thread (to archive, to prepare a
result) and the worker may hand them on to the text-extraction process; when extraction
is the slow part (every page of a site changed at once) bodies pile up in those queues
without bound. The item pipeline waits for room before it lets Scrapy go on; a waiting
item keeps its response in Scrapy's scraper slot, and Scrapy's own backout
(SCRAPER_SLOT_MAX_ACTIVE_SIZE) then stops new downloads until the queues drain.

Counted from three threads (the reactor adds, the worker and the extraction pool's
manager release), hence the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

DEFAULT_LIMIT = 32 * 1024 * 1024  # bodies held at most, give or take one batch


class Backlog:
    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError(f"backlog limit must be at least 1 byte, got {limit}")
        self.limit = limit
        self.peak = 0  # the most bytes held at once
        self.waits = 0  # how often the pipeline had to wait for room
        self._bytes = 0
        self._lock = threading.Lock()
        self._waiters: list[Callable[[], None]] = []

    @property
    def held(self) -> int:
        return self._bytes

    @property
    def full(self) -> bool:
        return self._bytes >= self.limit

    def add(self, size: int) -> None:
        with self._lock:
            self._bytes += size
            self.peak = max(self.peak, self._bytes)

    def release(self, size: int) -> None:
        with self._lock:
            self._bytes -= size
            ready: list[Callable[[], None]] = []
            if self._waiters and self._bytes < self.limit:
                ready, self._waiters = self._waiters, []
        for callback in ready:  # outside the lock: a callback may add again
            callback()

    def when_room(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from whichever thread frees the room) once the backlog is below
        its limit; at once if it is already."""
        with self._lock:
            room = self._bytes < self.limit
            if not room:
                self.waits += 1
                self._waiters.append(callback)
        if room:
            callback()
