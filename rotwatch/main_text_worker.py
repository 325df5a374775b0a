"""Main-text extraction in a child process, so the crawl keeps its own core.

trafilatura is pure-Python CPU work: run in the crawl's process it competes with the
reactor for the GIL. One spawned worker process (spawn, not fork: forking a running
Twisted reactor is unsafe) takes it to the machine's other core. If the worker dies, the
extraction runs in the calling thread instead: slower, never lost.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from rotwatch.drift import MainText, extract_main_text
from rotwatch.page_refs import PageRef, extract_ref

LOG = logging.getLogger(__name__)


def _quiet_worker() -> None:
    # trafilatura warns about every page it finds no article in; that is not news for us.
    logging.getLogger("trafilatura").setLevel(logging.ERROR)


class TextExtractor:
    def __init__(self, *, use_process: bool = True) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._use_process = use_process

    def submit(self, body: bytes, url: str, encoding: str | None) -> Future[MainText]:
        return self._run(extract_main_text, body, url, encoding=encoding)

    def submit_ref(self, ref: PageRef) -> Future[MainText]:
        """Extract a page the worker reads back from its WARC record: what waits in the
        queue is the reference, not the page."""
        return self._run(extract_ref, ref)

    def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Future[MainText]:
        if self._pool is None and self._use_process:
            # Started on first use: a crawl of images and short pages never pays for it.
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
