"""How crawl processes start: forked from a fork server that imported the crawl once.

Under `spawn` every crawl process was a fresh interpreter that imported Scrapy, Twisted
and rotwatch's crawl modules itself (about 1 CPU-second each, docs/benchmarks.md). With
multiprocessing's `forkserver` method one fresh interpreter imports them once
(`CRAWL_MODULES`, preloaded) and each crawl process is forked from it, ready.

Safe to fork: the server is a new interpreter started by the parent, not a fork of it,
so nothing of the parent crosses (its store connections, the progress bar's thread); the
server only imports, and importing these modules opens no SQLite connection, starts no
thread and installs no reactor (tests/test_crawl_start.py checks), so each crawl process
still installs its own reactor and runs one crawl. Where `forkserver` does not exist,
`spawn` as before.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from multiprocessing.context import BaseContext, ForkServerContext, SpawnContext

from rotwatch.crawl_process import CRAWL_MODULES
from rotwatch.main_text_worker import EXTRACTION_MODULES, mark_forked_crawl


def context() -> ForkServerContext | SpawnContext:
    """The start method for crawl processes, the fork server's preload set."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # The extraction worker's modules too: each crawl process forks its worker, which then
    # shares them with the server (rotwatch.main_text_worker).
    ctx.set_forkserver_preload(["rotwatch.shards", *CRAWL_MODULES, *EXTRACTION_MODULES,
                                "rotwatch.fork_server"])
    return ctx


def forks(ctx: BaseContext) -> bool:
    return ctx.get_start_method() == "forkserver"


def start_server(ctx: BaseContext) -> None:
    """Start the fork server now: it imports while this process does its own work (a
    child's start waits for the server's imports)."""
    if forks(ctx):
        from multiprocessing import forkserver

        forkserver.ensure_running()


def release_server() -> None:
    """In a crawl process forked from the server: close the server's liveness pipe.

    The server ends when every holder of that pipe has closed it, and each child
    inherits it; closed here, the server ends with the parent, so the parent-death
    signal (`PR_SET_PDEATHSIG`, which follows the direct parent: the server) still
    reaches the crawl when `rotwatch check` is killed.
    """
    from multiprocessing import forkserver

    mark_forked_crawl()  # its extraction worker is forked as the crawl starts
    server = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
        server._forkserver_alive_fd = None  # type: ignore[union-attr]


def stop_server(ctx: BaseContext) -> None:
    """After the crawl processes: stop the server and reap it, so that it does not
    outlive the run (and its CPU, with its children's, counts as this process's)."""
    if not forks(ctx):
        return
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:  # CPython's own (its tests use it); otherwise it ends with us
        with contextlib.suppress(OSError, ChildProcessError):
            stop()
