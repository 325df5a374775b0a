"""Running a check as several crawl processes, each owning a share of the hosts.

Children are forked from a fork server (rotwatch.start_method) that imported the crawl's
modules once, while the parent splits the due hosts between them by their number of due
targets (core.sharding); each child reads the plan when its crawl wants its first target.
They report each verdict over a queue for the progress display and send their result at
the end. SIGTERM/SIGINT to the parent is passed on once to every child, so each crawl
closes gracefully (Scrapy finishes what is in flight; the recorder flushes). On Linux a
child also gets SIGTERM if the parent dies, so no crawl outlives the writer lock.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import queue
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from types import FrameType
from typing import Any

from archive.store import Store
from archive.store.due import Selection
from core.records import Verdict
from core.sharding import balance_hosts
from rotwatch import crawl_start
from rotwatch.config import Config
from rotwatch.crawl_process import ShardResult, crawl_shard

LOG = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
# Seconds a crawl process waits for its parent's host plan before it falls back to the
# stable hash (the parent sends it right after starting the children).
PLAN_WAIT = 600.0


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _child(config: Config, selection: Selection, now: datetime, run_id: int,
           shard: tuple[int, int], events: Any, log_level: str, each: bool,
           plans: Any, forked: bool) -> None:
    if forked:
        crawl_start.release_server()
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
                             if each else None, log_level, plan=lambda: _plan(plans))
    except BaseException as exc:  # reported to the parent, which records the run
        result = ShardResult({}, 0, f"crawl process {shard[0]} failed: "
                                    f"{type(exc).__name__}: {exc}")
    events.put(("done", result))


def _plan(plans: Any) -> Mapping[str, int] | None:
    """The parent's host plan; without one (it failed to make it) the stable hash."""
    try:
        plan: Mapping[str, int] | None = plans.get(timeout=PLAN_WAIT)
    except queue.Empty:
        return None
    return plan


def host_plan(config: Config, selection: Selection, now: datetime,
              count: int) -> dict[str, int]:
    """Due hosts → crawl process, even by due targets (capped as the crawl caps them)."""
    with Store(config.store_path) as store:
        due = store.due_per_host(now, selection)
    cap = config.crawl.max_per_host_per_run
    if cap:
        due = {host: min(n, cap) for host, n in due.items()}
    return balance_hosts(due, count)


@contextlib.contextmanager
def _no_main_script() -> Iterator[None]:
    """While children start: `spawn` runs the parent's main script again in each child
    (as `__mp_main__`) when it is a file, and for the `rotwatch` console script that is
    the whole CLI, which a crawl process never uses (~0.2 CPU-seconds each)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or getattr(main, "__spec__", None) is not None:
        yield  # `python -m rotwatch`: spawn already skips a package's __main__
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def run_shards(config: Config, selection: Selection, now: datetime, run_id: int,
               count: int, on_result: Callable[[Verdict], None] | None,
               log_level: str) -> list[ShardResult]:
    context = crawl_start.context()
    forked = crawl_start.forks(context)
    events = context.Queue()
    plans = [context.Queue() for _ in range(count)]
    children = [context.Process(target=_child, name=f"rotwatch-crawl-{i}",
                                args=(config, selection, now, run_id, (i, count), events,
                                      log_level, on_result is not None, plans[i], forked))
                for i in range(count)]
    try:
        return _run(config, selection, now, count, on_result, context, children, events,
                    plans)
    finally:
        crawl_start.stop_server(context)


def _start(children: list[Any]) -> None:
    with _no_main_script():
        for child in children:
            child.start()


def _run(config: Config, selection: Selection, now: datetime, count: int,
         on_result: Callable[[Verdict], None] | None, context: Any, children: list[Any],
         events: Any, plans: list[Any]) -> list[ShardResult]:
    # The children load Python, Scrapy and the store while this process splits the
    # hosts: under spawn each loads for itself once started; a forked child starts
    # only when the fork server has loaded, so the server is started first instead.
    forked = crawl_start.forks(context)
    if forked:
        crawl_start.start_server(context)
    else:
        _start(children)
    plan: dict[str, int] | None = None
    try:
        plan = host_plan(config, selection, now, count)
    except Exception as exc:  # the children then split the hosts by the stable hash
        LOG.warning("could not split the hosts by their due targets (%s: %s); splitting "
                    "them by a hash of their names", type(exc).__name__, exc)
    if forked:
        _start(children)
    for waiting in plans:
        waiting.put(plan)
        # A child that died before reading must not keep this process from exiting.
        waiting.cancel_join_thread()
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
