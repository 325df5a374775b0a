"""The check job: one Scrapy crawl over the selected targets, in this process.

A Twisted reactor cannot be restarted, so a process runs at most one crawl; the daemon
starts `rotwatch check` as a child process, as scrapyd does.
"""

from __future__ import annotations

import logging
import os
import secrets
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from archive.store.db import open_database
from archive.store.due import DueTarget, Selection, due_page
from archive.store.runs import finish_run, mark_interrupted, start_run
from archive.store.store import Store
from archive.warc.writer import recover_open_files
from core.policy import spread_per_host
from core.records import Verdict
from rotwatch.config import Config

LOG = logging.getLogger(__name__)
BAD_VERDICTS = frozenset({Verdict.BROKEN, Verdict.SOFT_404, Verdict.DNS_FAILURE,
                          Verdict.CONNECTION_FAILED, Verdict.SERVER_ERROR, Verdict.TIMEOUT,
                          Verdict.TLS_ERROR, Verdict.REDIRECT_LOOP})


@dataclass(frozen=True)
class CheckSummary:
    run_id: int
    verdicts: dict[str, int] = field(default_factory=dict)
    recorded: int = 0
    error: str | None = None

    @property
    def checked(self) -> int:
        return sum(self.verdicts.values())

    @property
    def bad(self) -> int:
        return sum(n for v, n in self.verdicts.items() if Verdict(v) in BAD_VERDICTS)


def stream_targets(store_path: Path, now: datetime, selection: Selection,
                   max_per_host: int = 0, page_size: int = 500,
                   shard: tuple[int, int] = (0, 1)) -> Iterator[DueTarget]:
    """Due targets, page by page from their own read connection: never all in memory.

    With `shard` = (index, count), only hosts whose stable hash falls in this shard.
    """
    index, count = shard
    db = open_database(store_path)
    per_host: Counter[str] = Counter()
    after: tuple[str, int] | None = None
    try:
        while True:
            page = due_page(db, now, selection, after=after, limit=page_size)
            if not page:
                return
            mine = [t for t in page
                    if count == 1 or zlib.crc32(t.host.encode()) % count == index]
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


def crawl_shard(config: Config, selection: Selection, now: datetime, run_id: int,
                shard: tuple[int, int] = (0, 1),
                on_result: Callable[[Verdict], None] | None = None,
                log_level: str = "WARNING") -> ShardResult:
    """One crawl in this process over the targets of one shard (hosts hashed to it)."""
    # Imported here: a parent that only starts crawl processes need not load Scrapy.
    from scrapy.crawler import AsyncCrawlerProcess

    from crawler.fetch.settings import scrapy_settings
    from crawler.fetch.spider import CheckSpider, target_checked
    from rotwatch.recorder import Recorder

    crawl = config.crawl
    if crawl.ca_bundle:
        # OpenSSL's default verify paths (used by Twisted's platformTrust) honour this.
        os.environ["SSL_CERT_FILE"] = crawl.ca_bundle
    warc_dir = config.warc_dir if crawl.snapshots else None
    recorder = Recorder(config.store_path, warc_dir, run_id=run_id,
                        policy=config.policy,
                        batch_size=crawl.batch_size,
                        warc_max_bytes=int(crawl.warc_max_file_mb * 1_000_000))
    targets = stream_targets(config.store_path, now, selection, crawl.max_per_host_per_run,
                             shard=shard)
    process = AsyncCrawlerProcess(scrapy_settings(crawl, log_level=log_level))
    # A robots.txt that cannot be fetched is no error for us (we then allow, as
    # documented; the target's own failure is the finding); Scrapy would log a traceback
    # per host. Set after the process exists: creating it configures logging.
    logging.getLogger("scrapy.downloadermiddlewares.robotstxt").setLevel(logging.CRITICAL)
    crawler = process.create_crawler(CheckSpider)
    process.crawl(crawler, targets=targets, recorder=recorder,
                  probe_token=secrets.token_hex(8))
    if on_result is not None:
        crawler.signals.connect(lambda verdict, url, **_: on_result(verdict),
                                signal=target_checked, weak=False)
    try:
        process.start()
    finally:
        recorder.close()
    spider = crawler.spider
    verdicts = ({v.value: n for v, n in spider.verdicts.items()}
                if isinstance(spider, CheckSpider) else {})
    error = None
    if recorder.error is not None:
        error = f"{type(recorder.error).__name__}: {recorder.error}"
    return ShardResult(verdicts, recorder.recorded, error)


def crawl_processes(config: Config) -> int:
    """How many crawl processes: the configured number, or one per core (at most 4)."""
    wanted = config.crawl.processes
    return wanted if wanted > 0 else max(1, min(4, os.cpu_count() or 1))


def run_check(config: Config, selection: Selection, *, trigger: str = "manual",
              on_result: Callable[[Verdict], None] | None = None,
              log_level: str = "WARNING") -> CheckSummary:
    """Run one check to completion and record it; returns what was found.

    A Twisted reactor runs once per process and a crawl is CPU-bound in Python, so with
    more than one core the targets are split by host over several crawl processes
    (each host stays in one process, so politeness, robots.txt and probes are per host
    as before).
    """
    warc_dir = config.warc_dir if config.crawl.snapshots else None
    if warc_dir is not None:
        for report in recover_open_files(warc_dir):
            LOG.warning("recovered %s after an interrupted run: kept %d records, dropped "
                        "%d bytes", report.open_file, report.records_kept, report.bytes_dropped)
    now = datetime.now(UTC)
    with Store(config.store_path) as store:
        mark_interrupted(store.db, "check", now)
        run_id = start_run(store.db, "check", trigger, os.getpid(), now)
    shards = crawl_processes(config)
    if shards == 1:
        parts = [crawl_shard(config, selection, now, run_id, (0, 1), on_result, log_level)]
    else:
        from rotwatch.shards import run_shards

        parts = run_shards(config, selection, now, run_id, shards, on_result, log_level)
    verdicts: Counter[str] = Counter()
    for part in parts:
        verdicts.update(part.verdicts)
    recorded = sum(part.recorded for part in parts)
    errors = [part.error for part in parts if part.error]
    error = "; ".join(errors) if errors else None
    summary = CheckSummary(run_id, dict(verdicts), recorded, error)
    with Store(config.store_path) as store:
        finish_run(store.db, run_id, status="failed" if error else "ok",
                   exit_code=1 if error else (2 if summary.bad else 0),
                   now=datetime.now(UTC),
                   counts={"checked": summary.checked, "recorded": recorded,
                           "processes": shards, **verdicts}, message=error)
    return summary
