"""Imported only by the crawl processes' fork server, first: it leaves without finalizing.

The server holds nothing to flush or close (it only imported modules and forked), but a
normal interpreter exit tears down the ~950 modules it loaded, about 0.3 s that the check
waits for when it stops the server (rotwatch.crawl_start.stop_server). Registered first,
this exit handler runs after every other one. Processes forked from the server never run
exit handlers (multiprocessing ends them with os._exit), so they are not affected.
"""

from __future__ import annotations

import atexit
import os

atexit.register(os._exit, 0)
