"""Ingest benchmark: N generated news-export seeds → a fresh store; seeds/s and peak RSS.

    /work/venv/bin/python -m benchmarks.ingest [--count 10000] [--batch-size 200] [--keep]

Each seed is a copy of seeds/nyt-cn-20240729-blinken-wang-yi.txt (same size, same links per
article) whose URLs are varied: the article URL and the primary source are unique per seed,
in-body citations repeat every 997 seeds, author/organisation links are shared by all. The
ingest itself runs in a child process (``--child``) so the generator's memory is not counted
in the peak RSS; the child reports ``ru_maxrss`` of itself. A second child then re-ingests
the unchanged set into the same store.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "seeds" / "nyt-cn-20240729-blinken-wang-yi.txt"
URL_RE = re.compile(r"https?://[^\s\"'<>)]+")
GOAL_SEEDS_PER_S = 500.0
GOAL_RSS_MB = 300.0
CHILD_TIMEOUT_S = 1800.0


def vary_url(url: str, position: int, i: int) -> str:
    """A deterministic variant of the template's `position`-th URL for seed `i`."""
    if "cn.nytimes.com" in url or "mfa.gov.cn" in url:  # the article itself, primary source
        stem, dot, ext = url.rpartition(".")
        if dot and "/" not in ext:
            return f"{stem}-{i:06d}.{ext}"
        return url.rstrip("/") + f"-{i:06d}/"
    if "nytimes.com/20" in url:  # in-body citations: shared by some seeds
        return f"{url}?ref={(i * 7 + position) % 997}"
    return url  # author page, organisation site, image: shared by all


def vary_all(template: str, i: int) -> str:
    position = iter(range(1_000))
    return URL_RE.sub(lambda m: vary_url(m.group(0), next(position), i), template)


def generate(directory: Path, count: int) -> int:
    """Write `count` seeds into `directory`; returns the total bytes written."""
    template = TEMPLATE.read_text(encoding="utf-8")
    total = 0
    for i in range(count):
        text = vary_all(template, i)
        text = text.replace("<!--1722218822000-->", f"<!--{1722218822000 + i * 1000}-->", 1)
        sub = directory / f"{i // 1000:03d}"
        sub.mkdir(exist_ok=True)
        path = sub / f"nyt-cn-20240729-blinken-wang-yi-{i:06d}.txt"
        data = text.encode("utf-8")
        path.write_bytes(data)
        total += len(data)
    return total


def child(seeds: str, data_dir: str, batch_size: int) -> dict[str, Any]:
    """Runs in the measured process: open the store, ingest, report."""
    from archive.store.store import SeedChange, Store
    from rotwatch.ingest import ingest_paths

    start = time.perf_counter()
    cpu0 = time.process_time()
    with Store(Path(data_dir) / "rotwatch.db") as store:
        report = ingest_paths(store, [seeds], now=datetime.now(UTC),
                              max_seed_bytes=32_000_000, batch_size=batch_size)
    elapsed = time.perf_counter() - start
    return {
        "seconds": elapsed,
        "cpu_seconds": time.process_time() - cpu0,
        "seeds": len(report.outcomes),
        "new": report.count(SeedChange.NEW),
        "changed": report.count(SeedChange.CHANGED),
        "unchanged": report.count(SeedChange.UNCHANGED),
        "links": report.links,
        "problems": len(report.problems),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(seeds: Path, data_dir: Path, batch_size: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.ingest", "--child", "--seeds", str(seeds),
           "--data-dir", str(data_dir), "--batch-size", str(batch_size)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_S, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"ingest child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_seconds"] = wall
    return result


def store_counts(data_dir: Path) -> dict[str, int]:
    import sqlite3

    conn = sqlite3.connect(str(data_dir / "rotwatch.db"))
    try:
        return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                for t in ("seeds", "targets", "links")}
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--count", type=int, default=10_000, help="number of seeds (default 10000)")
    p.add_argument("--batch-size", type=int, default=200, help="seeds per transaction")
    p.add_argument("--keep", action="store_true", help="keep the temp dir and print it")
    p.add_argument("--json", action="store_true", help="print the results as JSON too")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--seeds", help=argparse.SUPPRESS)
    p.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.seeds, args.data_dir, args.batch_size)))
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="rotwatch-bench-ingest-"))
    try:
        seeds, data = tmp / "seeds", tmp / "data"
        seeds.mkdir()
        t0 = time.perf_counter()
        size = generate(seeds, args.count)
        gen_s = time.perf_counter() - t0
        print(f"generated {args.count} seeds ({size / args.count:.0f} B each, template "
              f"{TEMPLATE.stat().st_size} B) in {gen_s:.1f}s under {seeds}")
        first = run_child(seeds, data, args.batch_size)
        again = run_child(seeds, data, args.batch_size)
        counts = store_counts(data)
        db_mb = sum(f.stat().st_size for f in data.iterdir()) / 1e6
        rows = [("first ingest", first), ("re-ingest (unchanged)", again)]
        print(f"machine: nproc={os.cpu_count()} python={sys.version.split()[0]}")
        print(f"store: {counts['seeds']} seeds, {counts['targets']} targets, "
              f"{counts['links']} links, {db_mb:.1f} MB on disk")
        print(f"{'run':24} {'seeds':>7} {'links':>8} {'ingest s':>9} {'seeds/s':>9} "
              f"{'cpu s':>7} {'proc s':>7} {'peak RSS MB':>12}")
        for name, r in rows:
            rate = r["seeds"] / r["seconds"] if r["seconds"] else float("inf")
            r["seeds_per_s"] = rate
            print(f"{name:24} {r['seeds']:>7} {r['links']:>8} {r['seconds']:>9.2f} "
                  f"{rate:>9.0f} {r['cpu_seconds']:>7.2f} {r['process_seconds']:>7.2f} "
                  f"{r['max_rss_mb']:>12.1f}")
        print(f"first ingest: new={first['new']} problems={first['problems']}; "
              f"re-ingest: unchanged={again['unchanged']} changed={again['changed']}")
        ok_rate = first["seeds_per_s"] >= GOAL_SEEDS_PER_S
        ok_rss = max(first["max_rss_mb"], again["max_rss_mb"]) < GOAL_RSS_MB
        print(f"goal >= {GOAL_SEEDS_PER_S:.0f} seeds/s: {'met' if ok_rate else 'NOT met'}; "
              f"goal peak RSS < {GOAL_RSS_MB:.0f} MB: {'met' if ok_rss else 'NOT met'}")
        if args.json:
            print(json.dumps({"count": args.count, "bytes": size, "store": counts,
                              "db_mb": db_mb, "first": first, "reingest": again}))
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
