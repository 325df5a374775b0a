"""The SQLite store: ingest, re-ingest, removed links, shared targets, locks, bad input."""

from __future__ import annotations

import re
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from archive.store import SeedChange, Store, StoreError, schema
from archive.store.schema import migrations
from crawler.extract.links import extract
from rotwatch.ingest import ingest_paths

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "seeds"


def _seed(path: Path, links: list[str]) -> None:
    body = "".join(f'<p>See <a href="{url}">source {i}</a>.</p>' for i, url in enumerate(links))
    path.write_text(f"<html><body>{body}</body></html>", encoding="utf-8")


def _ingest(store: Store, *paths: Path, now: datetime = NOW):
    return ingest_paths(store, [str(p) for p in paths], now=now, max_seed_bytes=10_000_000)


def test_store_is_wal_and_migrated(tmp_path: Path) -> None:
    count = "SELECT count(*), count(DISTINCT name) FROM _sqlite_migrations"
    with Store(tmp_path / "s.db") as store:
        assert store.db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = set(store.db.table_names())
        assert {"seeds", "targets", "links", "checks", "snapshots", "runs"} <= tables
        first = store.db.execute(count).fetchone()
    # every migration of schema.py applied once, and reopening applies nothing twice
    registered = [name for name in vars(schema) if re.fullmatch(r"m\d{3}_\w+", name)]
    assert first == (len(registered), len(registered))
    with Store(tmp_path / "s.db") as store:
        applied = [row[0] for row in store.db.execute(
            "SELECT name FROM _sqlite_migrations ORDER BY id")]
        assert applied[:2] == ["m001_initial", "m002_drop_snapshot_search"]
        assert len(applied) == len(set(applied))  # each once, however many later ones
        assert "m003_i10_snapshot_captures" in applied
        # Every migration defined, once (other issues add theirs: count, don't hard-code).
        assert len(applied) == len(migrations._migrations) >= 3
        assert store.db.execute(count).fetchone() == first
        assert "m003_i13_validators" in applied


def test_snapshot_search_index_is_dropped_and_snapshots_kept(tmp_path: Path) -> None:
    # A store made before m002 has the unused full-text index; the upgrade drops it
    # (table and triggers) and keeps every snapshot row.
    db = Database(tmp_path / "s.db")
    migrations.apply(db, stop_before="m002_drop_snapshot_search")
    db.execute("INSERT INTO targets (key, url, host, checkable, first_seen_at) "
               "VALUES ('k', 'u', 'h', 1, 't')")
    db.execute("INSERT INTO snapshots (target_id, fetched_at, url, warc_file, warc_offset, "
               "warc_length, payload_digest, record_type, text) VALUES "
               "(1, 't', 'u', 'f', 0, 1, 'd', 'response', 'lanterns')")
    db.conn.commit()
    assert "snapshots_fts" in db.table_names()
    db.close()
    with Store(tmp_path / "s.db") as store:
        assert not [t for t in store.db.table_names() if t.startswith("snapshots_fts")]
        assert not store.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE "
            "'snapshots%'").fetchall()
        assert store.db.execute("SELECT text FROM snapshots").fetchall() == [("lanterns",)]


def test_default_seed_lands_in_the_store(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        report = _ingest(store, ROOT / "seeds")
        assert [o.change for o in report.outcomes] == [SeedChange.NEW]
        assert store.counts()["links"] == 9 and store.counts()["targets"] == 9
        rows = list(store.links())
        assert rows[0].seed.endswith("nyt-cn-20240729-blinken-wang-yi.txt")
        assert {r.role for r in rows} == {"self", "image", "citation", "primary-source",
                                             "author", "original"}
        seed = store.db["seeds"].get(1)
        assert seed["published_at"] == "2024-07-29T02:07:02+00:00"


def test_reingest_unchanged_changes_nothing(tmp_path: Path) -> None:
    seed = tmp_path / "a.html"
    _seed(seed, ["https://a.example/1", "https://a.example/2"])
    with Store(tmp_path / "s.db") as store:
        _ingest(store, seed)
        before = list(store.db.query("SELECT * FROM links"))
        report = _ingest(store, seed, now=NOW + timedelta(days=1))
        assert [o.change for o in report.outcomes] == [SeedChange.UNCHANGED]
        assert list(store.db.query("SELECT * FROM links")) == before


def test_changed_seed_marks_removed_links_and_keeps_history(tmp_path: Path) -> None:
    seed = tmp_path / "a.html"
    _seed(seed, ["https://a.example/1", "https://a.example/2"])
    with Store(tmp_path / "s.db") as store:
        _ingest(store, seed)
        _seed(seed, ["https://a.example/2", "https://a.example/3"])
        later = NOW + timedelta(days=2)
        report = _ingest(store, seed, now=later)
        outcome = report.outcomes[0]
        assert (outcome.change, outcome.added, outcome.removed) == (SeedChange.CHANGED, 1, 1)
        current = [r.url for r in store.links()]
        assert current == ["https://a.example/2", "https://a.example/3"]
        everything = {r.url: r.removed_at for r in store.links(include_removed=True)}
        assert everything["https://a.example/1"] == "2026-11-28T12:00:00+00:00"
        assert store.counts()["targets"] == 3  # the removed target is kept, with its history


def test_target_cited_by_many_seeds_is_one_target(tmp_path: Path) -> None:
    for i in range(3):
        _seed(tmp_path / f"s{i}.html", ["https://shared.example/x", f"https://own.example/{i}"])
    with Store(tmp_path / "s.db") as store:
        _ingest(store, tmp_path)
        shared = store.db.execute(
            "SELECT count(*) FROM links l JOIN targets t ON t.id = l.target_id "
            "WHERE t.key = 'https://shared.example/x'").fetchone()[0]
        assert shared == 3
        assert store.counts()["targets"] == 4


def test_bad_inputs_are_reported_and_the_batch_goes_on(tmp_path: Path) -> None:
    good = tmp_path / "good.html"
    _seed(good, ["https://ok.example/"])
    (tmp_path / "photo.html").write_bytes((FIXTURES / "image.html").read_bytes())
    (tmp_path / "empty.txt").write_text("")
    big = tmp_path / "huge.txt"
    big.write_bytes(b"https://big.example/ " * (50_000_000 // 21 + 1))
    empty_dir = tmp_path / "nothing"
    empty_dir.mkdir()
    messages: list[str] = []
    with Store(tmp_path / "s.db") as store:
        report = ingest_paths(store, [str(tmp_path), str(tmp_path / "missing.md"),
                                      str(empty_dir), str(tmp_path / "*.nope")],
                              now=NOW, max_seed_bytes=32_000_000, on_problem=messages.append)
        assert [Path(o.path).name for o in report.outcomes] == ["good.html"]
        joined = "\n".join(messages)
        assert "photo.html: looks like a PNG image" in joined
        assert "empty.txt: empty file" in joined
        assert "huge.txt: 50.0 MB is over the seed size limit" in joined
        assert "missing.md: no such file or directory" in joined
        assert "nothing: directory holds no seeds" in joined
        assert "no file matches this pattern" in joined
        assert store.counts()["links"] == 1


def test_failed_batch_is_rolled_back_whole(tmp_path: Path) -> None:
    seed = tmp_path / "a.html"
    _seed(seed, ["https://a.example/1"])
    with Store(tmp_path / "s.db") as store:
        _ingest(store, seed)
        extracted = extract(seed.read_bytes(), "other.html")

        def explode() -> None:
            store._ingest_one(extracted, NOW)
            raise RuntimeError("disk went away")

        with pytest.raises(RuntimeError):
            store.transaction(explode)
        assert store.counts()["seeds"] == 1 and store.counts()["links"] == 1


def test_locked_database_is_retried(tmp_path: Path) -> None:
    seed = tmp_path / "a.html"
    _seed(seed, ["https://a.example/1"])
    db_path = tmp_path / "s.db"
    with Store(db_path) as store:
        holder = sqlite3.connect(str(db_path), check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("INSERT INTO runs (kind, trigger, started_at, status) "
                       "VALUES ('x', 'test', '2026', 'running')")
        store.db.conn.execute("PRAGMA busy_timeout = 50")  # fail fast, let tenacity retry
        timer = threading.Timer(0.5, holder.commit)
        timer.start()
        report = _ingest(store, seed)
        timer.join()
        holder.close()
        assert report.outcomes[0].change is SeedChange.NEW
        assert store.counts()["runs"] == 1 and store.counts()["links"] == 1


def test_unwritable_store_names_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open store"):
        Store(blocker / "sub" / "s.db")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"garbage\.db"):
        Store(garbage)


def test_many_seeds_go_through_the_process_pool_and_unchanged_ones_are_skipped(
        tmp_path: Path) -> None:
    seeds = tmp_path / "many"
    seeds.mkdir()
    for i in range(260):  # over the pool threshold
        _seed(seeds / f"s{i:03}.html", [f"https://h{i % 7}.example/{i}", "https://shared.example/"])
    (seeds / "broken.html").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300))
    messages: list[str] = []
    with Store(tmp_path / "s.db") as store:
        report = ingest_paths(store, [str(seeds)], now=NOW, max_seed_bytes=10_000_000,
                              workers=2, on_problem=messages.append)
        assert report.count(SeedChange.NEW) == 260
        assert [o.path for o in report.outcomes] == sorted(o.path for o in report.outcomes)
        assert any("broken.html: looks like a PNG image" in m for m in messages)
        assert store.counts()["links"] == 520 and store.counts()["targets"] == 261
        (seeds / "s007.html").write_text("<p><a href='https://new.example/'>n</a></p>")
        again = ingest_paths(store, [str(seeds)], now=NOW + timedelta(days=1),
                             max_seed_bytes=10_000_000, workers=2)
        assert again.count(SeedChange.UNCHANGED) == 259
        assert again.count(SeedChange.CHANGED) == 1
        assert again.links == 259 * 2 + 1


def test_full_disk_names_the_store_and_keeps_what_was_recorded(tmp_path: Path) -> None:
    import resource
    import signal
    import subprocess
    import sys

    data = tmp_path / "data"
    first = tmp_path / "first"
    first.mkdir()
    _seed(first / "a.html", ["https://kept.example/1", "https://kept.example/2"])
    with Store(data / "rotwatch.db") as store:
        _ingest(store, first)
    many = tmp_path / "many"
    many.mkdir()
    for i in range(300):
        _seed(many / f"s{i}.html", [f"https://h{i}.example/{i}", f"https://q.example/{i}"])
    limit = (data / "rotwatch.db").stat().st_size + 20_000

    def small_disk() -> None:  # the child may write files up to `limit` bytes only
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run([sys.executable, "-m", "rotwatch", "--data-dir", str(data), "ingest",
                           str(many)], preexec_fn=small_disk, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert f"cannot write to store {data / 'rotwatch.db'}" in done.stderr
    assert "everything recorded before it is intact" in done.stderr
    with Store(data / "rotwatch.db") as store:
        assert [r.url for r in store.links()] == ["https://kept.example/1",
                                                    "https://kept.example/2"]
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_rotwatch_files_inside_a_seed_directory_are_not_seeds(tmp_path: Path) -> None:
    _seed(tmp_path / "a.html", ["https://a.example/"])
    for name in ("rotwatch.db-wal", "rotwatch.db-shm", "x.warc.gz", "y.warc.gz.open",
                 "archive.store.lock"):
        (tmp_path / name).write_bytes(b"\x00binary")
    messages: list[str] = []
    with Store(tmp_path / "rotwatch.db") as store:
        report = ingest_paths(store, [str(tmp_path)], now=NOW, max_seed_bytes=10_000_000,
                              on_problem=messages.append)
    assert [Path(o.path).name for o in report.outcomes] == ["a.html"]
    assert messages == []
