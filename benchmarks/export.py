"""Export benchmark: peak RSS and time of `rotwatch export` (warc, wacz) and `verify`,
over data dirs of 1,000 and 10,000 captures built in the same run (docs/benchmarks.md).

Each data dir holds one seed citing N targets, each with one archived capture (a distinct
~6 KB HTML body, so no revisits) and its check, written with rotwatch's own SnapshotWriter
and Store, in a child process of its own: the benchmark process stays small, because a
forked child's `ru_maxrss` starts from its parent's size. Each command runs as a child
process (`python -m rotwatch`); its peak RSS is that child's `ru_maxrss` (`os.wait4`).

    python -m benchmarks.export                  # 1,000 and 10,000 captures
    python -m benchmarks.export --sizes 1000,20000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archive.store import CheckRow, SnapshotRow, Store
from archive.warc.writer import Exchange, SnapshotWriter
from core.records import Hop, Judgement, Observation, Verdict
from rotwatch.ingest import ingest_paths

REPO = Path(__file__).resolve().parent.parent
WHEN = datetime(2026, 11, 1, tzinfo=UTC)


def build(data: Path, count: int) -> None:
    seed = data.parent / f"seed-{count}.md"
    seed.write_text("\n".join(f"- [source {i}](https://bench{i % 97}.example/page/{i})"
                              for i in range(count)) + "\n", encoding="utf-8")
    warc_dir = data / "warcs"
    with Store(data / "rotwatch.db") as store:
        ingest_paths(store, [str(seed)], now=WHEN, max_seed_bytes=50_000_000)
        targets = store.db.conn.execute("SELECT id, url FROM targets ORDER BY id").fetchall()
        with SnapshotWriter(warc_dir, max_file_bytes=50_000_000) as writer:
            rows = []
            for n, (target_id, url) in enumerate(targets):
                when = WHEN + timedelta(seconds=n)
                body = (f"<html><title>Page {n}</title><body>"
                        + f"<p>Paragraph {n} of a cited page, with words.</p>" * 120
                        + "</body></html>").encode()
                record = writer.write(Exchange(
                    url=url, method="GET", request_headers=(("User-Agent", "bench"),),
                    status=200, reason="OK", http_version="HTTP/1.1",
                    response_headers=(("Content-Type", "text/html"),), body=body,
                    truncated=False, fetched_at=when))
                snap = SnapshotRow(when, url, record.warc_file, record.offset, record.length,
                                   record.payload_digest, record.record_type, "text/html",
                                   f"Page {n}", None, False, 200)
                rows.append(CheckRow(target_id, when, Observation(url=url, hops=(Hop(url, 200),)),
                                     Judgement(Verdict.OK, "ok"), snapshot=snap))
                if len(rows) == 500:
                    batch, rows = rows, []
                    store.transaction(lambda b=batch: store.insert_checks(b, None))
            if rows:
                store.transaction(lambda: store.insert_checks(rows, None))


def measure(data: Path, *args: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "rotwatch", "--data-dir", str(data), *args]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    err = child.stderr.read().decode() if child.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    return {"command": args[0] + (f" {args[2]}" if len(args) > 2 and args[1] == "--format"
                                  else ""),
            "exit": code, "seconds": round(seconds, 2),
            "max_rss_mb": round(usage.ru_maxrss / 1024, 1), "stderr": err.strip()[-200:]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="1000,10000", help="capture counts, comma-separated")
    p.add_argument("--json", action="store_true", help="print the results as JSON too")
    p.add_argument("--build", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.build:
        build(Path(args.build[0]), int(args.build[1]))
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="rotwatch-bench-export-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            data = Path(tmp) / f"data-{size}"
            data.mkdir()
            built = time.perf_counter()
            subprocess.run([sys.executable, "-m", "benchmarks.export", "--build", str(data),
                            str(size)], cwd=REPO, check=True)
            print(f"built {size} captures in {time.perf_counter() - built:.1f} s", flush=True)
            for fmt in ("warc", "wacz"):
                out = Path(tmp) / f"export-{size}.{fmt}"
                row = measure(data, "export", "--format", fmt, "-o", str(out))
                row.update(captures=size, output_mb=round(out.stat().st_size / 1e6, 1))
                results.append(row)
            row = measure(data, "verify")
            row.update(captures=size, output_mb=None)
            results.append(row)
    print(f"{'captures':>9} {'command':14} {'exit':>4} {'seconds':>8} {'peak RSS MB':>12} "
          f"{'output MB':>10}")
    for r in results:
        print(f"{r['captures']:>9} {r['command']:14} {r['exit']:>4} {r['seconds']:>8} "
              f"{r['max_rss_mb']:>12} {r['output_mb'] if r['output_mb'] is not None else '-':>10}")
    if args.json:
        print(json.dumps(results))
    return 0 if all(r["exit"] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
