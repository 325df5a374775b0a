"""The Scrapy components a check crawl runs with, as Scrapy itself builds them.

Nothing in a crawl listens for connections (Scrapy 2.19's remote-control server runs any
Python code sent to it), a check crawl keeps no stats, and a fleet node keeps the item
count its summary reports (rotwatch/cluster/node_spider.py).
"""

from __future__ import annotations

import pytest
from scrapy.crawler import Crawler
from scrapy.settings import Settings
from scrapy.utils.reactor import install_reactor

from crawler.fetch.no_stats import NoStats
from crawler.fetch.settings import scrapy_settings
from crawler.fetch.spider import CheckSpider
from rotwatch.config import CrawlConfig


def built(node: bool) -> Crawler:
    """A local check's crawler, or a fleet node's (its egg's settings module)."""
    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    settings = Settings()
    if node:
        settings.setmodule("rotwatch.cluster.node_settings")
    else:
        settings.setdict(scrapy_settings(CrawlConfig()))
    crawler = Crawler(CheckSpider, settings)
    crawler._apply_settings()  # what crawl() does first: stats, extensions, addons
    return crawler


def extension_names(crawler: Crawler) -> set[str]:
    assert crawler.extensions is not None
    return {type(extension).__name__ for extension in crawler.extensions.middlewares}


@pytest.mark.parametrize("node", [False, True])
def test_no_extension_listens_for_connections(node: bool) -> None:
    names = extension_names(built(node))
    assert not names & {"TelnetConsole", "RemoteControl"}, names


def test_a_check_crawl_keeps_no_stats() -> None:
    crawler = built(node=False)
    assert isinstance(crawler.stats, NoStats)
    assert crawler.stats is not None
    crawler.stats.inc_value("item_scraped_count")
    assert crawler.stats.get_value("item_scraped_count") is None
    assert "CoreStats" not in extension_names(crawler)


def test_a_fleet_node_counts_its_items() -> None:
    crawler = built(node=True)
    assert crawler.stats is not None and not isinstance(crawler.stats, NoStats)
    assert "CoreStats" in extension_names(crawler)
