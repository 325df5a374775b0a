"""The node's spider: the local check spider, reading its shard from the shared location.

Scrapyd runs it as `scrapy crawl rotwatch-node -a shard_dir=… -a attempt=… -a vantage=…`
(and `-a storage_options=…` for an object store); everything else (middlewares, verdict
rules, probes) is the local check's own code. Its results go, as JSON lines, to the
attempt's `items.jl` through Scrapy's feed exports, and the attempt is published (its
`done.json` written) when the crawl finished, not when it was cancelled or failed: after
the engine stopped, so the feed file is closed (rotwatch/cluster/shared_store.py).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from w3lib.url import path_to_file_uri

from crawler.fetch.hops import TargetFetch
from crawler.fetch.spider import CheckSpider
from rotwatch.cluster.shared_choice import node_output
from rotwatch.cluster.shared_store import SharedStoreError

NODE_SPIDER = "rotwatch-node"
# A node with several networks checks from the one this names (its systemd unit sets it).
BIND_ADDRESS_ENV = "ROTWATCH_BIND_ADDRESS"
# The local second vantage's proxy comes in the environment, not on the command line,
# where its credentials would show in `ps`.
PROXY_ENV = "ROTWATCH_CONFIRM_PROXY"


class NodeCheckSpider(CheckSpider):
    name = NODE_SPIDER

    def __init__(self, *, shard_dir: str, attempt: str = "0", vantage: str = "",
                 bind_address: str = "", proxy: str = "", storage_options: str = "{}",
                 **kwargs: Any) -> None:
        self.output = node_output(shard_dir, int(attempt), json.loads(storage_options))
        super().__init__(targets=self.output.targets(),
                         probe_token=secrets.token_hex(8), **kwargs)
        self.attempt_dir = self.output.attempt_dir
        self.summary: dict[str, Any] | None = None
        self.vantage = vantage
        self.bind_address = bind_address or os.environ.get(BIND_ADDRESS_ENV, "")
        # A local second vantage through a forward proxy (`[cluster] confirm_proxy`);
        # Scrapy's HttpProxyMiddleware reads meta["proxy"], per request.
        self.proxy = proxy or os.environ.get(PROXY_ENV, "")

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NodeCheckSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        assert isinstance(spider, NodeCheckSpider)
        # Settings may still change here (they are frozen after the spider is built). The
        # attempt's results file joins whatever feed Scrapyd set up (its items_dir).
        feeds = crawler.settings.getdict("FEEDS")
        feeds[path_to_file_uri(str(spider.attempt_dir.items))] = {
            "format": "jsonlines", "encoding": "utf8", "overwrite": True}
        crawler.settings.set("FEEDS", feeds, priority="cmdline")
        ca_bundle = crawler.settings.get("ROTWATCH_CA_BUNDLE")
        if ca_bundle:
            # As a local crawl does (rotwatch/crawl_process.py): OpenSSL's default verify
            # paths honour it, and the job has its process to itself.
            os.environ["SSL_CERT_FILE"] = ca_bundle
        logging.getLogger("scrapy.downloadermiddlewares.robotstxt").setLevel(logging.CRITICAL)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        crawler.signals.connect(spider._publish, signal=signals.engine_stopped)
        return spider

    def _request(self, url: str, state: TargetFetch, *, deadline: float | None) -> Request:
        request = super()._request(url, state, deadline=deadline)
        if self.bind_address:
            request.meta["bindaddress"] = (self.bind_address, 0)
        if self.proxy:
            request.meta["proxy"] = self.proxy
        return request

    def _closed(self, spider: Any, reason: str) -> None:
        if reason != "finished" or self.crawler.stats is None:
            return  # cancelled or failed: no done.json, the coordinator tries elsewhere
        count = self.crawler.stats.get_value("item_scraped_count", 0)
        # Scrapyd names the job (`_job`): the coordinator gathers only its own job's marker.
        self.summary = {"count": count, "reason": reason, "vantage": self.vantage,
                        "job": getattr(self, "_job", None)}

    def _publish(self) -> None:
        try:
            if self.summary is not None:
                self.output.finish(self.summary)
        except (SharedStoreError, OSError) as exc:
            # No marker: the coordinator runs the shard again (under a new attempt).
            logging.getLogger(__name__).error("attempt not published: %s", exc)
        finally:
            self.output.close()


__all__ = ["BIND_ADDRESS_ENV", "NODE_SPIDER", "PROXY_ENV", "NodeCheckSpider"]
