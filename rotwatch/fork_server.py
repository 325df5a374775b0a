"""Imported last by the crawl processes' fork server: its modules frozen, a quick exit.

`gc.freeze()` moves everything the server imported out of the collector's reach, so a
crawl process forked from it does not rewrite those objects' GC headers when it collects,
and more of their pages stay shared with the server instead of being copied (the
documented use of `gc.freeze` before forking).

The server holds nothing to flush or close (it only imported modules and forked), but a
normal interpreter exit tears down the ~950 modules it loaded, about 0.3 s that the check
waits for when it stops the server (rotwatch.crawl_start.stop_server): this exit handler,
registered last, runs first and ends the process. Processes forked from the server never
run exit handlers (multiprocessing ends them with os._exit), so they are not affected.
"""

from __future__ import annotations

import atexit
import gc
import os

gc.freeze()
atexit.register(os._exit, 0)
