"""benchmarks/check.py's lines on the goals' lower bounds, from one block's runs and logs.

* The recheck goal (second pass ≤ 0.5× the first pass's CPU): the floor's own
  revalidation pass (benchmarks.floor_spider --revalidate, every unchanged page a 304)
  divided by rotwatch's first pass is the lowest ratio a checker making one Scrapy request
  per link can reach. The pass must really have had 304s, or the figure means nothing:
  a block where it did not is a failure of the benchmark run.
* The throughput goal (≥ 1.0× lychee's links/s at 2 per host): the shortest wall a
  zero-CPU checker could have for the requests rotwatch's first pass made
  (benchmarks/bounds.py), beside lychee's row, and how lychee itself retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from benchmarks.bounds import (
    LoggedRequest,
    not_modified,
    per_host_counts,
    retries,
    zero_cpu_bound,
)
from benchmarks.measure import Result, Setup

# rotwatch's default retry schedule: retry_times = 2, retry_backoff = 1.0 s doubling
# (crawler/fetch/middlewares.py, BackoffRetryMiddleware._pause).
BACKOFFS_S = (1.0, 2.0)
FLOOR_FIRST = "Scrapy floor (minimal spider)"
FLOOR_REVALIDATION = "Scrapy floor, revalidation pass"
FIRST = "rotwatch, defaults, first pass"
SECOND = "rotwatch, second pass"


@dataclass
class BlockNotes:
    """What one per-host block adds to the report: table rows, lines, failures."""

    rows: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def notes(setup: Setup, results: Sequence[Result],
          logs: Mapping[str, Sequence[LoggedRequest]], delay_s: float) -> BlockNotes:
    by_tool = {r.tool: r for r in results}
    out = BlockNotes()
    _revalidation(out, by_tool, logs)
    _bound(out, setup, by_tool, logs, delay_s)
    return out


def _revalidation(out: BlockNotes, by_tool: Mapping[str, Result],
                  logs: Mapping[str, Sequence[LoggedRequest]]) -> None:
    floor, reval = by_tool.get(FLOOR_FIRST), by_tool.get(FLOOR_REVALIDATION)
    first, second = by_tool.get(FIRST), by_tool.get(SECOND)
    if second is not None and SECOND in logs:
        log = logs[SECOND]
        out.lines.append(f"rotwatch second pass: the server answered {not_modified(log)} of "
                         f"{len(log)} requests 304")
    if reval is None:
        return
    got = reval.classified.get("not modified", 0)
    sent = reval.classified.get("sent validators", 0)
    logged = not_modified(logs.get(FLOOR_REVALIDATION, ()))
    out.lines.append(f"floor revalidation pass: {got} answers 304 for {sent} URLs sent with "
                     f"validators (server log: {logged} 304s)")
    if not sent or got < sent or logged < got:
        out.failures.append(f"the floor's revalidation pass got {got} 304s (server log "
                            f"{logged}) for {sent} URLs with validators: its CPU is not a "
                            f"recheck's")
    if floor and floor.cpu_s and first and first.cpu_s:
        out.lines.append(
            f"floor revalidation ÷ floor first pass (CPU): {reval.cpu_s / floor.cpu_s:.2f}×; "
            f"÷ rotwatch first pass: {reval.cpu_s / first.cpu_s:.2f}× = the lowest second/"
            f"first ratio a checker making one Scrapy request per link can reach "
            f"(goal ≤ 0.5×)"
            + (f"; rotwatch's own: {second.cpu_s / first.cpu_s:.2f}×" if second else ""))


def _bound(out: BlockNotes, setup: Setup, by_tool: Mapping[str, Result],
           logs: Mapping[str, Sequence[LoggedRequest]], delay_s: float) -> None:
    first, lychee = by_tool.get(FIRST), by_tool.get("lychee")
    if first is None or not logs.get(FIRST):
        return
    log = logs[FIRST]
    b = zero_cpu_bound(log, per_host=setup.per_host, delay_s=delay_s, backoffs_s=BACKOFFS_S,
                       started_at=first.started_at)
    for label, wall in (("any order", b.any_order_s), ("in stream order", b.in_order_s)):
        vs = (lychee.wall_s / wall) if lychee and lychee.wall_s else float("nan")
        out.rows.append(f"{'zero-CPU bound, ' + label:32} {wall:>7.1f} "
                        f"{first.links / wall:>8.0f} {'':>9} {'':>7} {vs:>8.2f}")
    out.lines.append(
        f"zero-CPU bound from rotwatch's first pass ({len(log)} requests): busiest host "
        f"{b.busiest_host}, {b.busiest_requests} delayed requests → {b.slots_s:.2f} s at "
        f"{setup.per_host}/host; a retried link's chain {b.chain_s:.2f} s (backoffs "
        f"{'+'.join(f'{s:g}' for s in BACKOFFS_S)} s); first response "
        f"{b.first_response_s:.2f} s after start")
    if lychee and logs.get("lychee"):
        own = zero_cpu_bound(logs["lychee"], per_host=setup.per_host, delay_s=delay_s,
                             backoffs_s=(), started_at=lychee.started_at)
        out.lines.append(f"lychee's own zero-CPU bound (its requests, its first response "
                         f"{own.first_response_s:.2f} s after start): {own.any_order_s:.1f} s "
                         f"against its {lychee.wall_s:.1f} s")
    for tool in (FIRST, "lychee"):
        if logs.get(tool):
            out.lines.append(f"{tool}: " + _requests_summary(logs[tool]))


def _requests_summary(log: Sequence[LoggedRequest]) -> str:
    counts = per_host_counts(log)
    r = retries(log)
    top = ", ".join(f"{h} {n}" for h, n in counts.most_common(3))
    return (f"{len(log)} requests; per host {min(counts.values())}–{max(counts.values())} "
            f"(most: {top}); links by attempts {r.attempts}; median wait before retry n "
            f"(s) {r.waits_s}; statuses {r.statuses}")
