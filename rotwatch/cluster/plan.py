"""Planning a fleet run: due targets split by host into shards, and the job's settings.

Hosts are split by the same stable hash as local crawl processes (rotwatch/shards.py), so
each host is in exactly one shard per run: per-host politeness, robots.txt and soft-404
probes hold across the fleet, because one job crawls all of a host.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from contextlib import ExitStack
from datetime import datetime

from archive.store.due import Selection
from core.records import DueTarget
from crawler.fetch.settings import scrapy_settings
from rotwatch.cluster.shared_dir import target_line
from rotwatch.cluster.shared_store import SharedStore
from rotwatch.config import Config, CrawlConfig
from rotwatch.crawl_process import stream_targets


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
    with ExitStack() as files:
        outs = [files.enter_context(shared.targets_writer(loc)) for loc in locations]
        for target in stream_targets(config.store_path, now, selection,
                                     config.crawl.max_per_host_per_run):
            i = shard_of(target.host, count)
            outs[i].write(target_line(target))
            counts[i] += 1
    return {i: (f"s{i}", (loc, counts[i])) for i, loc in enumerate(locations) if counts[i]}


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
