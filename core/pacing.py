"""How many requests each host may have in flight so that no host finishes needlessly early.

Pure functions. In a CPU-bound crawl every request in flight costs the others latency
(the reactor serves them all), so a host whose remaining work would be done long before
the slowest host's does not need its full per-host allowance: at a lower concurrency it
still finishes in time, and the CPU it leaves goes to the hosts on the critical path (a
host whose targets fail and are retried has more requests left per target). The
per-host limit stays a cap: nothing here raises a host above it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# A host is slowed only if, at the lower concurrency, it is still projected to finish
# within this share of the slowest host's time: the projection ignores targets not yet
# handed to the crawl, so a margin keeps a paced host from becoming the slow one.
MARGIN = 0.8
# Attempts a host must have seen before its retry rate counts (a few early failures
# would otherwise make a host look slow).
MIN_ATTEMPTS = 20


@dataclass(frozen=True)
class HostWork:
    """What is known of one host's remaining work."""

    host: str
    pending: int  # requests queued, held for a retry or in the downloader
    unfed: int  # due targets not handed to the crawl yet
    attempts: int  # requests answered (or failed) so far
    retries: int  # of those, not a target's first request (retries, redirect hops)


def requests_per_target(work: HostWork) -> float:
    """Requests a target of this host takes on average, as seen so far (at least 1)."""
    if work.attempts < MIN_ATTEMPTS or work.retries <= 0:
        return 1.0
    firsts = max(1, work.attempts - work.retries)
    return work.attempts / firsts


def paced_concurrency(hosts: Iterable[HostWork], cap: int,
                      margin: float = MARGIN) -> dict[str, float]:
    """host → requests it needs in flight, in [1, cap] (a fraction: see `dither`), to
    finish within `margin` of the slowest host's projected time (remaining requests ÷
    concurrency: every host sees the same latency per request in a CPU-bound crawl)."""
    work = {h.host: (h.pending + h.unfed) * requests_per_target(h) for h in hosts}
    if cap <= 1 or not work:
        return dict.fromkeys(work, float(max(1, cap)))
    slowest = max(work.values())
    if slowest <= 0:
        return dict.fromkeys(work, float(cap))
    return {host: min(float(cap), max(1.0, cap * left / (margin * slowest)))
            for host, left in work.items()}


def dither(wanted: Mapping[str, float], credit: Mapping[str, float],
           ) -> tuple[dict[str, int], dict[str, float]]:
    """Whole concurrencies for this period whose average over periods is `wanted`: each
    host's fraction accumulates in its credit and rounds up once it reaches 1. Returns
    the concurrencies and the new credits."""
    whole: dict[str, int] = {}
    left: dict[str, float] = {}
    for host, want in wanted.items():
        base = math.floor(want)
        owed = credit.get(host, 0.0) + (want - base)
        if owed >= 1.0:
            base, owed = base + 1, owed - 1.0
        whole[host], left[host] = base, owed
    return whole, left
