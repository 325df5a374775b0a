"""Lower bounds on a check's wall time, from the requests the target server actually logged.

benchmarks/check.py asks whether issue 13's throughput goal (≥ 1.0× lychee's links/s at 2
per host) is reachable by any checker that keeps the same per-host limit and the same
retry schedule. With no CPU at all, such a checker still cannot finish before:

* every host has answered its requests: a host serving ``n`` delayed requests ``per_host``
  at a time, each taking ``delay_s``, needs ``ceil(n / per_host) × delay_s``;
* a retried link's chain has run: ``attempts × delay_s`` plus the backoff waits between
  the attempts (rotwatch: 1 s, then 2 s) — the other requests of its host can use the
  slots during the waits, so this is a bound of its own (``any order``), not an addition;
* the checker's first response has come (its start: Python, imports, robots.txt).

``any_order`` is the true minimum (the retried links started first). ``in_order`` adds
the backoff waits after the busiest host's other work, as a checker that takes the links
in their stream order does when the host's last link is retried (rotwatch's 500 hosts end
last: docs/benchmarks.md, "Retries held by the scheduler").
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the target server saw it: host address, path, status, start and end
    (seconds since the epoch)."""

    host: str
    path: str
    status: int
    start: float
    end: float


@dataclass(frozen=True)
class Bound:
    """The shortest wall any zero-CPU checker could have for one logged run."""

    busiest_host: str
    busiest_requests: int
    slots_s: float  # ceil(busiest_requests / per_host) × delay
    chain_s: float  # one retried link: attempts × delay + the backoff waits
    first_response_s: float
    any_order_s: float
    in_order_s: float


def parse_nginx_line(line: str) -> LoggedRequest | None:
    """A line of NginxServer's request log (``$msec $request_time $server_addr $status
    $request_uri``), or None for a line that is not one (or a control route)."""
    parts = line.split()
    if len(parts) != 5 or parts[4].startswith("/_nginx_status"):
        return None
    try:
        end, took, status = float(parts[0]), float(parts[1]), int(parts[3])
    except ValueError:
        return None
    return LoggedRequest(parts[2], parts[4], status, end - took, end)


def delayed(requests: Iterable[LoggedRequest]) -> list[LoggedRequest]:
    """The requests the server delays (the /bench workload; robots.txt is answered at once)."""
    return [r for r in requests if r.path.startswith("/bench/")]


def per_host_counts(requests: Iterable[LoggedRequest]) -> Counter[str]:
    return Counter(r.host for r in delayed(requests))


def zero_cpu_bound(requests: Sequence[LoggedRequest], *, per_host: int, delay_s: float,
                   backoffs_s: Sequence[float], started_at: float) -> Bound:
    """The bound for the requests one run made (see the module docstring). ``started_at``
    is when the checker's process started (epoch seconds)."""
    counts = per_host_counts(requests)
    if not counts:
        raise ValueError("no /bench requests in the log")
    attempts = Counter((r.host, r.path) for r in delayed(requests))
    retried_hosts = {host for (host, _), n in attempts.items() if n > 1}
    host, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    slots = math.ceil(n / per_host) * delay_s
    chain = ((1 + len(backoffs_s)) * delay_s + sum(backoffs_s)) if retried_hosts else 0.0
    first = min(r.end for r in requests) - started_at
    in_order = max(math.ceil(c / per_host) * delay_s
                   + (sum(backoffs_s) if h in retried_hosts else 0.0)
                   for h, c in counts.items())
    return Bound(host, n, slots, chain, first, first + max(slots, chain), first + in_order)


@dataclass(frozen=True)
class Retries:
    """How a run retried: links by number of attempts, and the waits between attempts."""

    attempts: dict[int, int]  # attempts → links
    waits_s: dict[int, float]  # n-th wait (1-based) → median seconds, end to next start
    statuses: dict[int, int]  # status → requests


def retries(requests: Sequence[LoggedRequest]) -> Retries:
    """The retry behaviour in a run's log: a URL (host and path) requested more than once
    was retried. A wait is the time from an attempt's end to the next attempt's start."""
    by_path: dict[tuple[str, str], list[LoggedRequest]] = defaultdict(list)
    for r in delayed(requests):
        by_path[r.host, r.path].append(r)
    waits: dict[int, list[float]] = defaultdict(list)
    for seen in by_path.values():
        seen.sort(key=lambda r: r.start)
        for n, (a, b) in enumerate(itertools.pairwise(seen), start=1):
            waits[n].append(max(0.0, b.start - a.end))
    return Retries(dict(sorted(Counter(len(v) for v in by_path.values()).items())),
                   {n: round(statistics.median(w), 3) for n, w in sorted(waits.items())},
                   dict(sorted(Counter(r.status for r in delayed(requests)).items())))


def not_modified(requests: Iterable[LoggedRequest]) -> int:
    """How many requests the server answered 304 Not Modified."""
    return sum(1 for r in requests if r.status == 304)
