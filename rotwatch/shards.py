"""Running a check as several crawl processes, each owning a share of the hosts.

Children are started with `spawn` (a fresh interpreter: no reactor state inherited),
report each verdict over a queue for the progress display, and send their result at the
end. SIGTERM/SIGINT to the parent is passed on once to every child, so each crawl closes
gracefully (Scrapy finishes what is in flight; the recorder flushes). On Linux a child
also gets SIGTERM if the parent dies, so no crawl outlives the writer lock.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import queue
import signal
import sys
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import Any

from archive.store.due import Selection
from core.records import Verdict
from rotwatch.config import Config
from rotwatch.crawl_process import ShardResult, crawl_shard

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _child(config: Config, selection: Selection, now: datetime, run_id: int,
           shard: tuple[int, int], events: Any, log_level: str, each: bool) -> None:
    # Out of the terminal's process group: Ctrl-C reaches only the parent, which passes
    # one SIGTERM on (a second signal would make Scrapy stop without closing cleanly).
    with contextlib.suppress(OSError):
        os.setpgrp()
    _die_with_parent()
    try:
        # Each verdict crosses the process boundary only when the parent shows progress:
        # otherwise it is a pickle and a pipe write per link for nobody.
        result = crawl_shard(config, selection, now, run_id, shard,
                             (lambda verdict: events.put(("verdict", verdict.value)))
                             if each else None, log_level)
    except BaseException as exc:  # reported to the parent, which records the run
        result = ShardResult({}, 0, f"crawl process {shard[0]} failed: "
                                    f"{type(exc).__name__}: {exc}")
    events.put(("done", result))


def run_shards(config: Config, selection: Selection, now: datetime, run_id: int,
               count: int, on_result: Callable[[Verdict], None] | None,
               log_level: str) -> list[ShardResult]:
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    children = [context.Process(target=_child, name=f"rotwatch-crawl-{i}",
                                args=(config, selection, now, run_id, (i, count), events,
                                      log_level, on_result is not None))
                for i in range(count)]
    for child in children:
        child.start()
    forwarded = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal forwarded
        if forwarded:
            return  # one SIGTERM each: a second one makes Scrapy stop uncleanly
        forwarded = True
        for child in children:
            if child.is_alive() and child.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    results: list[ShardResult] = []
    try:
        while len(results) < count:
            try:
                kind, payload = events.get(timeout=0.5)
            except queue.Empty:
                if not any(child.is_alive() for child in children):
                    break  # a child died without reporting (killed): stop waiting
                continue
            if kind == "verdict" and on_result is not None:
                on_result(Verdict(payload))
            elif kind == "done":
                results.append(payload)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in children:
            child.join(timeout=30)
    missing = count - len(results)
    if missing:
        results.append(ShardResult({}, 0, f"{missing} crawl process(es) ended without a "
                                          "result (killed?)"))
    return results
