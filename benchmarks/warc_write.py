"""WARC write cost per exchange, in process: what the Recorder's thread spends per response.

    .venv/bin/python -m benchmarks.warc_write [--pages 2000] [--rounds 7] [--page-kb 0]
        [--profile] [--base DIR]

Archives ``--pages`` exchanges (200-byte pages, or about N KiB with ``--page-kb``) over 20
hosts with `SnapshotWriter(index=True)` (records, gzip, the CDXJ line) into a temp
directory, ``--rounds`` times, in a worker thread as the Recorder does (zlib's memory
comes from that thread's own malloc arena), and prints the minimum µs of that thread's
CPU time per exchange (the machine is shared: the minimum is the least disturbed round).
With ``--base DIR`` (another tree, from `git archive`), each round runs both trees in
turn, each in its own interpreter, and prints their ratio. ``--profile`` prints a cProfile
of one round instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

if "--tree" in sys.argv:  # the tree measured goes first on the path (before this one)
    sys.path.insert(0, sys.argv[sys.argv.index("--tree") + 1])
else:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import cProfile
import pstats
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from archive.warc.writer import SnapshotWriter
from core.exchange import Exchange


def exchanges(pages: int, page_kb: int) -> list[Exchange]:
    start = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
    out = []
    for i in range(pages):
        text = (f"<p>paragraph {i}-{n}: the quick brown fox {n * i} jumps</p>"
                for n in range(max(1, page_kb * 20)))
        body = (f"<html><title>page {i}</title><body>{''.join(text)}</body></html>"
                .encode()) if page_kb else f"<html><title>page {i}</title></html>".encode()
        url = f"http://127.0.0.{2 + i % 20}:8080/bench/200/{i}"
        out.append(Exchange(
            url=url, method="GET",
            request_headers=(("Accept", "text/html"), ("User-Agent", "rotwatch/0.1")),
            status=200, reason="OK", http_version="HTTP/1.1",
            response_headers=(("Content-Type", "text/html; charset=utf-8"),
                              ("Content-Length", str(len(body))),
                              ("ETag", f'"{i}"'), ("Date", "Tue, 01 Dec 2026 12:00:00 GMT")),
            body=body, truncated=False,
            # ~60 responses per second, as a crawl's recorder sees them
            fetched_at=start + timedelta(microseconds=16_667 * i),
            ip_address="127.0.0.2"))
    return out


def one_round(batch: list[Exchange]) -> float:
    """µs of this thread's CPU time per exchange."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.thread_time()
        with SnapshotWriter(Path(tmp), index=True) as writer:
            for exchange in batch:
                writer.write(exchange)
        return (time.thread_time() - start) / len(batch) * 1e6


def _in_tree(tree: str, args: argparse.Namespace) -> float:
    """One round of `tree`, in its own interpreter."""
    done = subprocess.run(
        [sys.executable, __file__, "--pages", str(args.pages), "--page-kb", str(args.page_kb),
         "--rounds", "1", "--quiet", "--tree", tree],
        capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pages", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--page-kb", type=int, default=0)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--base", help="another tree (git archive) to measure against")
    p.add_argument("--tree", help=argparse.SUPPRESS)
    p.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    pages = f"{args.pages} exchanges, {args.page_kb or 0.2} KiB pages"
    if args.base:
        here = str(Path(__file__).resolve().parents[1])
        runs: dict[str, list[float]] = {"this": [], "base": []}
        for _ in range(args.rounds):  # interleaved: both trees see the same load
            for name, tree in (("this", here), ("base", args.base)):
                runs[name].append(_in_tree(tree, args))
        this, base = min(runs["this"]), min(runs["base"])
        print(f"{pages}: this {this:.1f}, base {base:.1f} µs per exchange (min of "
              f"{args.rounds}), this/base {this / base:.3f}")
        return 0
    batch = exchanges(args.pages, args.page_kb)
    with ThreadPoolExecutor(max_workers=1) as worker:  # the Recorder's thread, as in a crawl
        if args.profile:
            profile = cProfile.Profile()
            worker.submit(profile.runcall, one_round, batch).result()
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
            return 0
        times = [worker.submit(one_round, batch).result() for _ in range(args.rounds)]
    if args.quiet:
        print(min(times))
        return 0
    print(f"{pages}: min {min(times):.1f} µs per exchange "
          f"(rounds: {', '.join(f'{t:.0f}' for t in times)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
