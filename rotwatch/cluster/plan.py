"""Planning a fleet run: due targets split by host into shards, and the job's settings.

Hosts are split by the same stable hash as local crawl processes (rotwatch/shards.py), so
each host is in exactly one shard per run: per-host politeness, robots.txt and soft-404
probes hold across the fleet, because one job crawls all of a host.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime

from sqlite_utils import Database

from archive.store.db import open_database
from archive.store.due import Selection
from archive.store.originals import earlier_originals
from archive.warc.writer import format_warc_date
from core.records import Capture, DueTarget
from crawler.fetch.settings import scrapy_settings
from rotwatch.cluster.shared_dir import target_line
from rotwatch.cluster.shared_store import SharedStore
from rotwatch.config import Config, CrawlConfig
from rotwatch.crawl_process import stream_targets

PAGE = 500  # targets per query for their earlier records


def shard_of(host: str, count: int) -> int:
    return zlib.crc32(host.encode()) % count


def plan_shards(config: Config, shared: SharedStore, selection: Selection, now: datetime,
                run_id: int, count: int) -> dict[int, tuple[str, tuple[str, int]]]:
    """Write each shard's targets into the shared location; index → (name, (location,
    targets)).

    Shards without targets are left out. The targets stream page by page from the store
    and straight into their files: never all in memory.
    """
    locations = [shared.shard(run_id, f"s{i}") for i in range(count)]
    counts = [0] * count
    db = open_database(config.store_path)
    try:
        with ExitStack() as files:
            outs = [files.enter_context(shared.targets_writer(loc)) for loc in locations]
            targets = stream_targets(config.store_path, now, selection,
                                     config.crawl.max_per_host_per_run)
            for page in pages(targets, PAGE):
                for target in with_originals(db, page):
                    i = shard_of(target.host, count)
                    outs[i].write(target_line(target))
                    counts[i] += 1
    finally:
        db.close()
    return {i: (f"s{i}", (loc, counts[i])) for i, loc in enumerate(locations) if counts[i]}


def pages(targets: Iterable[DueTarget], size: int) -> Iterator[list[DueTarget]]:
    page: list[DueTarget] = []
    for target in targets:
        page.append(target)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page


def with_originals(db: Database, targets: list[DueTarget]) -> list[DueTarget]:
    """The targets with the earlier records a node's revisits may name (one query a page)."""
    found = earlier_originals(db, [t.id for t in targets])
    return [replace(t, originals=tuple(Capture(uri, format_warc_date(date), digest)
                                       for uri, date, digest in found.get(t.id, ())))
            for t in targets]


def write_confirm_targets(shared: SharedStore, location: str,
                          targets: Iterable[DueTarget]) -> int:
    return shared.write_targets(location, targets)


def node_settings(config: Config, log_level: str) -> list[str]:
    """`KEY=VALUE` for every Scrapy setting the config changes from the node's defaults
    (the egg's settings module is built from the default `[crawl]` options)."""
    crawl = config.crawl
    wanted = scrapy_settings(crawl, log_level=log_level)
    default = scrapy_settings(CrawlConfig(), log_level=log_level)
    changed = [f"{key}={value}" for key, value in sorted(wanted.items())
               if value != default.get(key) and isinstance(value, str | int | float | bool)]
    changed.append(f"LOG_LEVEL={log_level}")
    changed.append(f"ROTWATCH_SNAPSHOTS={crawl.snapshots}")
    changed.append(f"ROTWATCH_WARC_MAX_BYTES={int(crawl.warc_max_file_mb * 1_000_000)}")
    if crawl.ca_bundle:
        changed.append(f"ROTWATCH_CA_BUNDLE={crawl.ca_bundle}")
    return changed
