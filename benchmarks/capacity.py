"""The one-machine envelope: stores of 10k, 100k and 1M targets, checked on this machine.

    .venv/bin/python -m benchmarks.capacity [--sizes 10000 100000 1000000] [--due 5000]
        [--per-host 10] [--json]

For each size a synthetic store is built (targets inserted directly, as ingest would leave
them, all pointing at the benchmark's mock server: 20 loopback hosts, 50 ms per response,
benchmarks/check.py's status mix, validators on), with `--due` of them due. Then:

* the due count and one scheduling cycle (every due target streamed page by page, what a
  check does before its first request), median of 5;
* one `rotwatch check` of the due targets, every default on except the per-host limit
  (`--per-host`, delay 0): links/s, CPU per 1,000 links (whole process tree), peak RSS of
  the process tree (sampled every 0.2 s), WARC bytes and store growth per 1,000 links;
* on the smallest store, a second pass over the same targets (`check --all` of them: the
  recheck, 304s where the server confirms the validators).

Store size on disk is measured before and after. The 1M store is built and its scheduling
cycle measured like the others; its check is the same due slice, not a full pass.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive.store import Selection, Store  # noqa: E402
from archive.store.db import to_db  # noqa: E402
from benchmarks.check import DELAY_MS, HOSTS, MAX_TOTAL, disk_mb, status_for  # noqa: E402
from benchmarks.measure import BIN, Result, measure  # noqa: E402
from rotwatch.crawl_process import stream_targets  # noqa: E402
from tests.conftest import MockServer  # noqa: E402


def build_store(data: Path, size: int, due: int, url_of: Any) -> float:
    """`size` targets, `due` of them due now (spread through the id range); seconds taken."""
    started = time.perf_counter()
    data.mkdir(parents=True)
    now = datetime.now(UTC)
    past, future = to_db(now - timedelta(hours=1)), to_db(now + timedelta(days=30))
    first_seen = to_db(now - timedelta(days=1))
    step = max(1, size // due)
    with Store(data / "rotwatch.db") as store:
        conn = store.db.conn

        def rows(start: int, stop: int) -> Any:
            for i in range(start, stop):
                url = url_of(i)
                is_due = i % step == 0 and i // step < due
                yield (url, url, url.split("/")[2], 1, first_seen, past if is_due else future)

        for start in range(0, size, 100_000):
            with conn:
                conn.executemany(
                    "INSERT INTO targets (key, url, host, checkable, first_seen_at, "
                    "next_check_at) VALUES (?,?,?,?,?,?)",
                    rows(start, min(size, start + 100_000)))
        conn.execute("ANALYZE")
    return time.perf_counter() - started


def cycle(data: Path) -> tuple[float, float, int]:
    """Median seconds of the due count and of one scheduling cycle, and the due count."""
    counts, cycles, found = [], [], 0
    for _ in range(5):
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        with Store(data / "rotwatch.db") as store:
            found = store.due_count(now, Selection())
        counts.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        streamed = sum(1 for _ in stream_targets(data / "rotwatch.db", now, Selection()))
        cycles.append(time.perf_counter() - t0)
        assert streamed == found, (streamed, found)
    return statistics.median(counts), statistics.median(cycles), found


def check(data: Path, cfg: Path, name: str, links: int, *args: str) -> Result:
    result = Result(name, links)
    warc, store = disk_mb(data / "warcs"), disk_mb(data) - disk_mb(data / "warcs")
    measure([str(BIN / "rotwatch"), "--config", str(cfg), "--data-dir", str(data), "check",
             "--allow-private", *args], 3600, result)
    result.note = (f"WARC +{(disk_mb(data / 'warcs') - warc) / links * 1000:.3f} MB and store "
                   f"+{(disk_mb(data) - disk_mb(data / 'warcs') - store) / links * 1000:.3f} MB "
                   "per 1,000 links")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--due", type=int, default=5000)
    p.add_argument("--per-host", type=int, default=10)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="rotwatch-capacity-") as tmp, \
            MockServer(hosts=["127.0.0.2-21"], delay_ms=DELAY_MS, tls=False, bomb_mb=0,
                       max_seconds=4 * 3600, extra_args=["--validators", "on"]) as srv:
        cfg = Path(tmp) / "rotwatch.toml"
        cfg.write_text(f"[crawl]\nconcurrency_per_host = {args.per_host}\n"
                       f"concurrency_total = {min(MAX_TOTAL, HOSTS * args.per_host)}\n"
                       "delay_per_host = 0\n", encoding="utf-8")
        for size in args.sizes:
            data = Path(tmp) / f"store-{size}"
            built = build_store(data, size, args.due, lambda i: srv.url(
                f"/bench/{status_for(i)}/{i}", host=1 + i % HOSTS))
            empty_mb = disk_mb(data)
            count_s, cycle_s, due = cycle(data)
            first = check(data, cfg, f"{size:,}: check of the due", due)
            row: dict[str, Any] = {
                "targets": size, "due": due, "build_s": round(built, 1),
                "store_mb": round(empty_mb, 1), "due_count_ms": round(count_s * 1000, 1),
                "cycle_ms": round(cycle_s * 1000, 1), "links_per_s": round(first.links_per_s),
                "cpu_per_1k": round(first.cpu_per_1000, 2),
                "tree_rss_mb": round(first.tree_rss_mb), "first": first.note,
                "exit": first.exit_code}
            if size == min(args.sizes):
                # The same targets due again at once: the recheck of what was just checked.
                with Store(data / "rotwatch.db") as store, store.db.conn as conn:
                    conn.execute("UPDATE targets SET next_check_at = ? WHERE last_checked_at "
                                 "IS NOT NULL", [to_db(datetime.now(UTC) - timedelta(hours=1))])
                again = check(data, cfg, f"{size:,}: second pass", due)
                row |= {"second_cpu_per_1k": round(again.cpu_per_1000, 2),
                        "second_links_per_s": round(again.links_per_s),
                        "second_tree_rss_mb": round(again.tree_rss_mb), "second": again.note}
            row["store_after_mb"] = round(disk_mb(data) - disk_mb(data / "warcs"), 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
            # Only one store on disk at a time.
            for path in sorted(data.rglob("*"), reverse=True):
                path.rmdir() if path.is_dir() else path.unlink()
    print("\n| targets | due | store MB | due count ms | cycle ms | links/s | CPU s/1k "
          "| tree RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['targets']:,} | {r['due']:,} | {r['store_mb']} | {r['due_count_ms']} | "
              f"{r['cycle_ms']} | {r['links_per_s']} | {r['cpu_per_1k']} | {r['tree_rss_mb']} |")
    if args.json:
        print(json.dumps(rows))
    print(f"nproc={os.cpu_count()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
