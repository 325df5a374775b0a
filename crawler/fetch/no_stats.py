"""A Scrapy stats collector that keeps nothing and costs (almost) nothing per call.

A check crawl reads none of Scrapy's stats: its counts are its own (the Outcome items),
and a fleet node, which reads Scrapy's item count, keeps Scrapy's collector
(crawler.fetch.settings, `scrapy_stats=True`). Scrapy 2.19's StatsCollector routes every
attribute read through a Python `__getattribute__` (a deprecation shim for the `spider`
argument), and its DummyStatsCollector inherits that: each of the scheduler's, the
engine's and the middlewares' several calls per request paid for it (1.3 % of a check
crawl's samples, `py-spy --gil`).
"""

from __future__ import annotations

from scrapy.statscollectors import DummyStatsCollector


class NoStats(DummyStatsCollector):
    """DummyStatsCollector without the per-attribute shim: plain attribute reads."""

    # object's own C slot, not a Python function: the cheapest attribute read there is.
    __getattribute__ = object.__getattribute__
