"""Scrapy's downloader, with a host's transfer slots counted as each download is started.

Scrapy 2.19's downloader (`Downloader._process_queue`) starts a host's queued requests
while the host has free transfer slots, but a request only counts as transferring once
its download coroutine first runs, on a later turn of the loop. With no delay between
requests the loop therefore starts every request queued for the host at once, and
`CONCURRENT_REQUESTS_PER_DOMAIN` is not enforced. rotwatch used to keep a 1 ms delay for
that reason (a delay makes Scrapy start one request per pass); under load each of those
passes waited for a timer and a later turn of the loop, so a host's free slot stood idle
and every request paid for a timer. Here a request counts as transferring from the moment
its download is scheduled, so with no delay the per-host limit holds without one.

A configured delay takes Scrapy's own path unchanged. Scrapy removes the request from
`transferring` when its download ends (`Downloader._download` adds it again, a set, and
removes it in its `finally`), so nothing is counted twice or left behind.
"""

from __future__ import annotations

from time import monotonic

from scrapy.core.downloader import Downloader, Slot
from scrapy.utils.defer import _schedule_coro


class CheckDownloader(Downloader):
    """Scrapy's downloader whose per-host limit holds with no delay between requests."""

    def _process_queue(self, slot: Slot) -> None:
        if slot.latercall or slot.download_delay():
            super()._process_queue(slot)
            return
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = monotonic()
            request, queue_dfd = slot.queue.popleft()
            slot.transferring.add(request)  # counted now, not when the coroutine first runs
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
