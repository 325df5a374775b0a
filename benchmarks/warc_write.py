"""WARC write cost per exchange, in process: what the Recorder's thread spends per response.

    .venv/bin/python -m benchmarks.warc_write [--pages 2000] [--rounds 7] [--page-kb 0]
        [--profile]

Archives ``--pages`` exchanges (200-byte pages, or about N KiB with ``--page-kb``) over 20
hosts with `SnapshotWriter(index=True)` (records, gzip, the CDXJ line) into a temp
directory, ``--rounds`` times, and prints the minimum µs per exchange (the machine is
shared: the minimum is the least disturbed round). ``--profile`` prints a cProfile of one
round instead.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive.warc.writer import SnapshotWriter  # noqa: E402
from core.exchange import Exchange  # noqa: E402


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
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with SnapshotWriter(Path(tmp), index=True) as writer:
            for exchange in batch:
                writer.write(exchange)
        return (time.perf_counter() - start) / len(batch) * 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pages", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--page-kb", type=int, default=0)
    p.add_argument("--profile", action="store_true")
    args = p.parse_args(argv)
    batch = exchanges(args.pages, args.page_kb)
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(one_round, batch)
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        return 0
    times = [one_round(batch) for _ in range(args.rounds)]
    print(f"{args.pages} exchanges, {args.page_kb or 0.2} KiB pages: min {min(times):.1f} µs "
          f"per exchange (rounds: {', '.join(f'{t:.0f}' for t in times)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
