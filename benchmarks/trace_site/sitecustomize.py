"""Tracing hook for benchmarks/crawl_trace.py: loaded by every Python process it starts.

Only active when ROTWATCH_TRACE_DIR is set (the benchmark puts this directory first on
PYTHONPATH, so Python imports this file at start-up in the `rotwatch check` parent and in
every crawl process it spawns). It records the process's start and exit and adds the
CrawlTrace extension to each crawl's Scrapy settings. Nothing in rotwatch knows of it.
"""

import os

if os.environ.get("ROTWATCH_TRACE_DIR"):
    from benchmarks.crawl_trace import install

    install()
