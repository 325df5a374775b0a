"""Cost of one scheduling cycle: finding the due targets in a small and a huge store.

Builds stores of 10,000 and 1,000,000 targets (1,000 of them due), then times what a
check run does before its first request: open the store and stream every due target
(archive.store.due pages over the (checkable, next_check_at) index). Prints a Markdown table.

    python -m benchmarks.schedule [--sizes 10000 1000000] [--due 1000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.store.db import open_database, to_db
from archive.store.due import Selection
from rotwatch.crawl_process import stream_targets

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def build_store(path: Path, size: int, due: int) -> None:
    db = open_database(path)
    past, future = to_db(NOW - timedelta(hours=1)), to_db(NOW + timedelta(days=3))
    step = max(1, size // due)  # due targets spread through the id range

    def rows(start: int, stop: int):  # type: ignore[no-untyped-def]
        for i in range(start, stop):
            is_due = i % step == 0 and i // step < due
            yield (f"https://h{i % 5000}.example/p/{i}", f"https://h{i % 5000}.example/p/{i}",
                   f"h{i % 5000}.example", 1, to_db(NOW), past if is_due else future)

    chunk = 100_000
    for start in range(0, size, chunk):
        with db.conn:
            db.conn.executemany(
                "INSERT INTO targets (key, url, host, checkable, first_seen_at, next_check_at) "
                "VALUES (?,?,?,?,?,?)", rows(start, min(size, start + chunk)))
    db.execute("ANALYZE")
    db.close()


def time_cycle(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    found = sum(1 for _ in stream_targets(path, NOW, Selection()))
    return time.perf_counter() - started, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    results: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"store-{size}.db"
            t0 = time.perf_counter()
            build_store(path, size, args.due)
            built = time.perf_counter() - t0
            time_cycle(path)  # warm-up: page cache and imports, not part of the cost
            timings = []
            for _ in range(args.repeat):
                seconds, found = time_cycle(path)
                assert found == args.due, (found, args.due)
                timings.append(seconds)
            results[size] = statistics.median(timings)
            print(f"built {size:,} targets in {built:.1f} s; cycle median "
                  f"{results[size] * 1000:.1f} ms over {args.repeat} runs "
                  f"(min {min(timings) * 1000:.1f}, max {max(timings) * 1000:.1f})")
    smallest = results[min(results)]
    print("\n| targets in store | due | cycle (median ms) | ratio to smallest |")
    print("|---:|---:|---:|---:|")
    for size, seconds in results.items():
        print(f"| {size:,} | {args.due:,} | {seconds * 1000:.1f} | {seconds / smallest:.2f}× |")


if __name__ == "__main__":
    main()
