"""Finding due targets: time filter, paging, per-host cap across pages, host shards."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.store.db import open_database, to_db
from archive.store.due import Selection
from rotwatch.crawl_process import stream_targets

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def _store(path: Path, hosts: int = 5, per_host: int = 6) -> None:
    db = open_database(path)
    with db.conn:
        for h in range(hosts):
            for i in range(per_host):
                due = NOW - timedelta(hours=i) if i < per_host - 1 else NOW + timedelta(days=1)
                url = f"https://h{h}.example/{i}"
                db.conn.execute(
                    "INSERT INTO targets (key, url, host, checkable, first_seen_at, "
                    "next_check_at) VALUES (?,?,?,1,?,?)",
                    [url, url, f"h{h}.example", to_db(NOW), to_db(due)])
        db.conn.execute("INSERT INTO targets (key, url, host, checkable, first_seen_at) "
                        "VALUES ('mailto:x', 'mailto:x', '', 0, ?)", [to_db(NOW)])
    db.close()


def test_only_due_checkable_targets_most_overdue_first(tmp_path: Path) -> None:
    _store(tmp_path / "s.db")
    found = list(stream_targets(tmp_path / "s.db", NOW, Selection(), page_size=4))
    assert len(found) == 5 * 5  # one target per host is not due yet; mailto never
    times = [t.next_check_at for t in found]
    assert times == sorted(times)
    everything = list(stream_targets(tmp_path / "s.db", NOW, Selection(every=True),
                                      page_size=4))
    assert len(everything) == 30


def test_per_host_cap_holds_across_pages(tmp_path: Path) -> None:
    _store(tmp_path / "s.db")
    found = list(stream_targets(tmp_path / "s.db", NOW, Selection(), max_per_host=2,
                                page_size=3))
    assert Counter(t.host for t in found) == {f"h{h}.example": 2 for h in range(5)}


def test_shards_split_by_host_and_cover_everything(tmp_path: Path) -> None:
    _store(tmp_path / "s.db", hosts=12)
    shards = [list(stream_targets(tmp_path / "s.db", NOW, Selection(), shard=(i, 3)))
              for i in range(3)]
    keys = [t.key for shard in shards for t in shard]
    assert len(keys) == len(set(keys)) == 12 * 5
    hosts = [{t.host for t in shard} for shard in shards]
    assert not (hosts[0] & hosts[1]) and not (hosts[1] & hosts[2]) and not (hosts[0] & hosts[2])
    assert sum(1 for h in hosts if h) >= 2  # 12 hosts do not all hash to one shard
