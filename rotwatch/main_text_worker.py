"""Main-text extraction in a child process, so the crawl keeps its own core.

trafilatura is pure-Python CPU work: run in the crawl's process it competes with the
reactor for the GIL. One worker process takes it to the machine's other core. If the
worker dies, the extraction runs in the calling thread instead: slower, never lost.

How the worker starts: in a crawl process forked from the fork server (which preloaded
`EXTRACTION_MODULES`), it is forked from the crawl process at once, before the crawl
starts a thread or a reactor (forking a running Twisted reactor, or a process with
threads, is unsafe): it then shares the server's pages, trafilatura's included, instead
of importing them again (a spawned worker cost ~42 MB of its own; docs/benchmarks.md,
"memory of a changed pass"). Anywhere else (one crawl in the `rotwatch check` process,
a fleet node) a worker is spawned, on first use.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import multiprocessing
import signal
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from rotwatch.drift import MainText, extract_main_text
from rotwatch.page_refs import PageRef, extract_ref

LOG = logging.getLogger(__name__)
# What the worker runs, preloaded by the crawl processes' fork server (rotwatch.crawl_start)
# so that a worker forked from a crawl process has it in shared pages.
EXTRACTION_MODULES = ("rotwatch.page_refs", "trafilatura", "trafilatura.core")
_PR_SET_PDEATHSIG = 1


def _quiet_worker() -> None:
    # trafilatura warns about every page it finds no article in; that is not news for us.
    logging.getLogger("trafilatura").setLevel(logging.ERROR)


def _forked_worker() -> None:
    """In a worker forked from its crawl process."""
    # Everything inherited leaves the collector's reach: collecting would rewrite those
    # objects' headers and copy their pages, which the worker shares with its parent.
    gc.freeze()
    # The worker's queue is held open by the worker itself (inherited from the fork), so it
    # would not notice a killed crawl process: it ends with it instead.
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    _quiet_worker()


# Set in a crawl process forked from the fork server (rotwatch.crawl_start.release_server).
_forked_crawl = False


def mark_forked_crawl() -> None:
    """This process is a crawl process forked from the fork server, which preloaded
    `EXTRACTION_MODULES`: its extraction worker is forked as the crawl starts."""
    global _forked_crawl
    _forked_crawl = True


def fork_at_start() -> bool:
    """Whether this process's extraction worker is to be forked as its crawl starts."""
    return _forked_crawl


def can_fork_now() -> bool:
    """Whether a worker can be forked from this process: a platform with `fork`, and no
    thread but this one (a fork copies a lock another thread holds, held forever)."""
    return ("fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1)


class TextExtractor:
    def __init__(self, *, use_process: bool = True, fork_now: bool = False) -> None:
        """With `fork_now` (and `can_fork_now()`), the worker is forked here and now;
        otherwise a worker is spawned when the first page is submitted."""
        self._pool: ProcessPoolExecutor | None = None
        self._use_process = use_process
        if use_process and fork_now and can_fork_now():
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("fork"),
                initializer=_forked_worker)
            try:
                # With `fork`, the pool forks its worker on the first submission, in this
                # (the only) thread, before it starts its own threads.
                self._pool.submit(int).result()
            except (BrokenProcessPool, OSError) as exc:  # then spawned on first use
                LOG.warning("cannot fork a text extraction worker (%s)", exc)
                self._pool.shutdown(wait=False)
                self._pool = None

    def submit(self, body: bytes, url: str, encoding: str | None) -> Future[MainText]:
        return self._run(extract_main_text, body, url, encoding=encoding)

    def submit_ref(self, ref: PageRef) -> Future[MainText]:
        """Extract a page the worker reads back from its WARC record: what waits in the
        queue is the reference, not the page."""
        return self._run(extract_ref, ref)

    def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Future[MainText]:
        if self._pool is None and self._use_process:
            # Started on first use: a crawl of images and short pages never pays for it.
            # Spawned, not forked: this process may run threads and a reactor by now.
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                initializer=_quiet_worker)
        if self._pool is not None:
            try:
                return self._pool.submit(fn, *args, **kwargs)
            except (BrokenProcessPool, RuntimeError) as exc:
                LOG.warning("text extraction worker unavailable (%s); extracting in-process",
                            exc)
                self._pool, self._use_process = None, False
        done: Future[MainText] = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except Exception as exc:  # a page that defeats extraction keeps its check
            done.set_exception(exc)
        return done

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
