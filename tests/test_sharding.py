"""Splitting a run's hosts between crawl processes: whole hosts, even by due targets."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.store.db import open_database, to_db
from archive.store.due import Selection
from core.sharding import balance_hosts, hashed_shard, shard_of
from rotwatch.config import Config, CrawlConfig
from rotwatch.crawl_process import stream_targets
from rotwatch.shards import host_plan

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
# Due targets per host: one big host, a few middling ones, many small ones.
SIZES = {"big.example": 40, **{f"mid{i}.example": 12 for i in range(4)},
         **{f"small{i}.example": 3 for i in range(10)}}


def _store(path: Path) -> None:
    db = open_database(path)
    with db.conn:
        for host, count in SIZES.items():
            for i in range(count + 1):  # the last one of each host is not due yet
                due = NOW - timedelta(minutes=i) if i < count else NOW + timedelta(days=1)
                url = f"https://{host}/{i}"
                db.conn.execute(
                    "INSERT INTO targets (key, url, host, checkable, first_seen_at, "
                    "next_check_at) VALUES (?,?,?,1,?,?)",
                    [url, url, host, to_db(NOW), to_db(due)])
    db.close()


def test_the_biggest_host_gets_a_shard_and_the_rest_even_out() -> None:
    plan = balance_hosts(SIZES, 3)
    assert set(plan) == set(SIZES) and set(plan.values()) == {0, 1, 2}
    load = Counter({i: 0 for i in range(3)})
    for host, shard in plan.items():
        load[shard] += SIZES[host]
    assert [h for h, s in plan.items() if s == plan["big.example"]] == ["big.example"]
    # 118 targets: the big host's 40, and the other two within one small host of 39.
    others = sorted(n for s, n in load.items() if s != plan["big.example"])
    assert others[1] - others[0] <= 3 and sum(others) == 78


def test_the_plan_is_deterministic_and_one_shard_takes_everything() -> None:
    assert balance_hosts(SIZES, 4) == balance_hosts(dict(reversed(SIZES.items())), 4)
    assert set(balance_hosts(SIZES, 1).values()) == {0}


def test_hosts_the_plan_does_not_name_fall_back_to_the_hash() -> None:
    plan = {"a.example": 1}
    assert shard_of("a.example", 2, plan) == 1
    assert shard_of("new.example", 2, plan) == hashed_shard("new.example", 2)
    assert shard_of("a.example", 1, plan) == 0  # a plan for another count is not used
    assert shard_of("x", 2, {"x": 5}) == hashed_shard("x", 2)


def test_the_store_counts_due_targets_per_host_and_the_crawls_follow_the_plan(
        tmp_path: Path) -> None:
    _store(tmp_path / "rotwatch.db")
    config = Config(data_dir=tmp_path, crawl=CrawlConfig(processes=3))
    plan = host_plan(config, Selection(), NOW, 3)
    assert plan == balance_hosts(SIZES, 3)
    shards = [list(stream_targets(config.store_path, NOW, Selection(), shard=(i, 3),
                                  plan=lambda: plan)) for i in range(3)]
    keys = [t.key for shard in shards for t in shard]
    assert len(keys) == len(set(keys)) == sum(SIZES.values())
    for i, shard in enumerate(shards):
        assert {t.host for t in shard} == {h for h, s in plan.items() if s == i}
    # The per-run cap per host is what the plan balances, as the crawl applies it.
    capped = host_plan(Config(data_dir=tmp_path, crawl=CrawlConfig(
        processes=3, max_per_host_per_run=3)), Selection(), NOW, 3)
    assert capped == balance_hosts(dict.fromkeys(SIZES, 3), 3)
