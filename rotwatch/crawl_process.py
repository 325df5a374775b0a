"""One crawl in this process: stream the due targets of a shard into a Scrapy crawl.

A Twisted reactor cannot be restarted, so a process runs at most one crawl; `rotwatch
check` (rotwatch/check.py) runs this in-process for one shard, or in several child
processes (rotwatch/shards.py), one per shard.
"""

from __future__ import annotations

import gc
import logging
import os
import secrets
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archive.store.db import open_database
from archive.store.due import Selection, due_page
from core.policy import spread_per_host
from core.records import DueTarget, Verdict
from core.sharding import shard_of
from core.url_filter import UrlFilter
from rotwatch.config import Config

# The modules crawl_shard imports (in its body, so a parent that only starts crawl
# processes need not load Scrapy): the fork server preloads them (rotwatch.crawl_start);
# tests/test_crawl_start.py keeps the two lists the same.
CRAWL_MODULES = ("scrapy", "scrapy.crawler", "crawler.fetch.backlog", "crawler.fetch.items",
                 "crawler.fetch.settings", "crawler.fetch.spider", "rotwatch.cluster.held",
                 "rotwatch.main_text_worker", "rotwatch.pipeline", "rotwatch.recorder")
# The collector's thresholds while a crawl runs (Python's default: 700, 10, 10).
CRAWL_GC_THRESHOLDS = (20_000, 50, 100)


def stream_targets(store_path: Path, now: datetime, selection: Selection,
                   max_per_host: int = 0, page_size: int = 500,
                   shard: tuple[int, int] = (0, 1),
                   plan: Callable[[], Mapping[str, int] | None] | None = None,
                   ) -> Iterator[DueTarget]:
    """Due targets, page by page from their own read connection: never all in memory.

    With `shard` = (index, count), only the hosts of this shard: those `plan` (host →
    shard, core.sharding.balance_hosts) gives it, and among hosts it does not name, those
    whose stable hash falls in it. `plan` is called when the first target is wanted, so
    a crawl process can start while its parent still splits the hosts.
    """
    index, count = shard
    urls = UrlFilter.of(selection.include, selection.exclude)
    hosts = plan() if plan is not None and count > 1 else None
    db = open_database(store_path)
    per_host: Counter[str] = Counter()
    after: tuple[str, int] | None = None
    try:
        while True:
            page = due_page(db, now, selection, after=after, limit=page_size)
            if not page:
                return
            mine = [t for t in page
                    if (count == 1 or shard_of(t.host, count, hosts) == index)
                    and (not urls.active or urls.keeps(t.url))]
            if max_per_host:
                # the rest of a busy host waits for the next cycle
                take, _ = spread_per_host([(t.key, t.host) for t in mine], max_per_host,
                                          per_host)
                chosen = set(take)
                mine = [t for t in mine if t.key in chosen]
            yield from mine
            after = (page[-1].next_check_at, page[-1].id)
    finally:
        db.close()


@dataclass(frozen=True)
class ShardResult:
    verdicts: dict[str, int]
    recorded: int
    error: str | None = None
    # Targets refused by the operator's settings (core.operator_rules): not checks, not
    # recorded; one of the reasons, to show.
    refused: int = 0
    refusal: str | None = None


def crawl_shard(config: Config, selection: Selection, now: datetime, run_id: int,
                shard: tuple[int, int] = (0, 1),
                on_result: Callable[[Verdict], None] | None = None,
                log_level: str = "WARNING",
                plan: Callable[[], Mapping[str, int] | None] | None = None) -> ShardResult:
    """One crawl in this process over the targets of one shard (see stream_targets)."""
    # Imported here: a parent that only starts crawl processes need not load Scrapy.
    from scrapy.crawler import AsyncCrawlerProcess

    from crawler.fetch.backlog import BACKLOG
    from crawler.fetch.settings import scrapy_settings
    from crawler.fetch.spider import CheckSpider
    from rotwatch.cluster.held import holds_for_confirmation
    from rotwatch.main_text_worker import TextExtractor, fork_at_start
    from rotwatch.pipeline import ACCEPT, RECORDER, TALLY, RecordPipeline, Tally
    from rotwatch.recorder import Recorder

    # First, while this process has one thread and no reactor: a crawl process forked from
    # the fork server forks its text-extraction worker now, which then shares the server's
    # pages (rotwatch.main_text_worker); elsewhere a worker is spawned when needed.
    extractor = TextExtractor(fork_now=fork_at_start())
    crawl = config.crawl
    if crawl.ca_bundle:
        # OpenSSL's default verify paths (used by Twisted's platformTrust) honour this. Set
        # here, in the process that runs the crawl, on purpose: the only per-crawl way,
        # DOWNLOADER_CLIENTCONTEXTFACTORY, is deprecated in Scrapy 2.19, and a crawl has
        # its process to itself (one reactor per process).
        os.environ["SSL_CERT_FILE"] = crawl.ca_bundle
    warc_dir = config.warc_dir if crawl.snapshots else None
    recorder = Recorder(config.store_path, warc_dir, run_id=run_id,
                        policy=config.policy,
                        batch_size=crawl.batch_size,
                        warc_max_bytes=int(crawl.warc_max_file_mb * 1_000_000),
                        hold_failures=holds_for_confirmation(config),
                        archive_dir=config.warc_dir, extractor=extractor)
    targets = stream_targets(config.store_path, now, selection, crawl.max_per_host_per_run,
                             shard=shard, plan=plan)
    settings = scrapy_settings(crawl, log_level=log_level)
    settings["ITEM_PIPELINES"] = {RecordPipeline: 300}
    process = AsyncCrawlerProcess(settings)
    # A robots.txt that cannot be fetched is no error for us (we then allow, as
    # documented; the target's own failure is the finding); Scrapy would log a traceback
    # per host. Set after the process exists: creating it configures logging.
    logging.getLogger("scrapy.downloadermiddlewares.robotstxt").setLevel(logging.CRITICAL)
    crawler = process.create_crawler(CheckSpider)
    # A live object, so set on this crawler's own settings (which are not copied again):
    # settings handed to the process are deep-copied into each crawler.
    crawler.settings.set(RECORDER, recorder)
    crawler.settings.set(BACKLOG, lambda: recorder.backlog)
    crawler.settings.set(ACCEPT, list(crawl.accept))
    # Counted by the pipeline as it records each result (no item_scraped signal handler).
    tally = Tally(on_result)
    crawler.settings.set(TALLY, tally)
    process.crawl(crawler, targets=targets, probe_token=secrets.token_hex(8))
    # A crawl makes and drops objects by the million (requests, responses, Deferreds,
    # Failures): at Python's default threshold (700) the collector runs thousands of
    # times and its older generations are walked again and again. A larger first
    # threshold collects the same garbage in fewer, larger passes.
    thresholds = gc.get_threshold()
    gc.set_threshold(*CRAWL_GC_THRESHOLDS)
    try:
        process.start()
    finally:
        gc.set_threshold(*thresholds)
        recorder.close()
    error = None
    if recorder.error is not None:
        error = f"{type(recorder.error).__name__}: {recorder.error}"
    refusals = tally.refusals
    return ShardResult(dict(tally.verdicts), recorder.recorded, error, len(refusals),
                       refusals[0] if refusals else None)
