"""A target's fetch in progress: the typed state its requests carry, hops and clock kept.

Every request of a target (its first URL, each redirect hop, each retry) carries one
`TargetFetch` in `meta[TARGET_FETCH]`; robots.txt and soft-404 probes carry none, which is
how everything downstream tells a target's responses from the rest. The state is frozen
and replaced, never changed: a retry copies `meta`, so it starts from the state of the
attempt it repeats, and a finished attempt's state is never touched again.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass, fields, replace
from typing import Any

from scrapy import Request
from scrapy.http import Response

from core.exchange import ArchivedRecord
from core.records import DueTarget, Hop

TARGET_FETCH = "rotwatch_target"


@dataclass(frozen=True)
class TargetFetch:
    target: DueTarget
    # The target's responses so far; the HopMiddleware adds each one that reaches the spider.
    hops: tuple[Hop, ...] = ()
    spent: float = 0.0  # seconds spent downloading the earlier hops (queueing excluded)
    sent: float | None = None  # when this attempt's download started (monotonic)
    # Where this attempt's response went in the WARC archive (set by whoever archives it).
    warc: Future[ArchivedRecord | None] | None = None

    def elapsed(self, now: float | None = None) -> float:
        """Seconds spent downloading this target over all its hops, this one included."""
        if self.sent is None:
            return self.spent
        return self.spent + ((time.monotonic() if now is None else now) - self.sent)


_FIELDS = frozenset(field.name for field in fields(TargetFetch))


def fetch_of(request: Request | None) -> TargetFetch | None:
    """The target state a request carries, None for robots.txt and probes."""
    state = request.meta.get(TARGET_FETCH) if request is not None else None
    return state if isinstance(state, TargetFetch) else None


def update(request: Request, state: TargetFetch, **changes: Any) -> TargetFetch:
    """Replace the request's state with a changed copy (and return it)."""
    if not _FIELDS.issuperset(changes):
        raise TypeError(f"TargetFetch has no field {sorted(set(changes) - _FIELDS)}")
    new = replace(state, **changes)
    request.meta[TARGET_FETCH] = new
    return new


def hop_of(response: Response) -> Hop:
    location = response.headers.get(b"Location")
    return Hop(response.url, response.status, location.decode("latin-1") if location else None)


def start_clock(request: Request, now: float) -> None:
    """This attempt's download starts now (the download handler calls it).

    The clock starts where the download does, after the robots.txt wait, the scheduler and
    the host's download slot, when the target's time budget starts too: a target's time is
    the time spent downloading it. (A `request_reached_downloader` handler did this before,
    a signal dispatch per request, and started it before the slot's queue.)
    """
    state = fetch_of(request)
    if state is not None:
        update(request, state, sent=now)


class HopMiddleware:
    """Keeps each target's hops: every response the spider sees is one hop.

    Placed before the retry middlewares (a lower number), so its `process_response` only
    sees the responses that are not retried: those are the hops.
    """

    # A coroutine, though it never waits: Scrapy 2.19 wraps a plain method's result in a
    # coroutine of its own, after asking whether it is awaitable (an ABC check), at twice
    # the cost per response.
    async def process_response(self, request: Request, response: Response) -> Response:
        state = fetch_of(request)
        if state is not None:
            update(request, state, hops=(*state.hops, hop_of(response)))
        return response
