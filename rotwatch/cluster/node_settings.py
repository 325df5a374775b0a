"""The Scrapy settings module of the node egg (its `scrapy` entry point names this module).

The same settings as a local check, built by the same function from the default `[crawl]`
options; the coordinator sends the options its config changes as Scrapyd `setting=`
parameters (`rotwatch.cluster.node_job.node_settings`), so a node needs no config file.
"""

from __future__ import annotations

from crawler.fetch.settings import scrapy_settings
from rotwatch.config import CrawlConfig

# Scrapy's stats kept: the node reports its item count from them (node_spider._closed).
globals().update(scrapy_settings(CrawlConfig(), scrapy_stats=True))

SPIDER_MODULES = ["rotwatch.cluster.node_spider"]
NEWSPIDER_MODULE = "rotwatch.cluster.node_spider"
ITEM_PIPELINES = {"rotwatch.cluster.node_pipeline.NodePipeline": 300}
# What a node reads beyond the crawl settings (set per job by the coordinator).
ROTWATCH_SNAPSHOTS = True
ROTWATCH_WARC_MAX_BYTES = 1_000_000_000
ROTWATCH_CA_BUNDLE = ""
