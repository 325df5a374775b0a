"""rotwatch's first-pass CPU as a multiple of the Scrapy floor's, pooled over alternated runs.

    .venv/bin/python -m benchmarks.floor_ratio [--links 10000] [--per-host 2,10]
        [--rounds 3] [--server nginx|mock] [--timeout 900]

The floor's own CPU moves by ±15 % from run to run on this machine, so one run of
`benchmarks.check` cannot tell 1.45× from 1.6×. This runs the same workload
(benchmarks/check.py's: 20 loopback hosts, 50 ms per response, the same status mix and
verdict oracle), ingests once, and then, for each per-host limit, ``--rounds`` times: the
floor (`benchmarks.floor_spider`) and rotwatch's first pass on a fresh copy of the store,
every default on except `concurrency_per_host`, `concurrency_total` and
`delay_per_host = 0` (as in benchmarks/check.py), the order swapped every round. It
prints each round's ratio and the pooled one (sum of rotwatch's CPU ÷ sum of the
floor's), and fails (exit 1) if any run misclassified a link.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.check import (  # noqa: E402
    DELAY_MS,
    GOAL_FLOOR_RATIO,
    HOSTS,
    MAX_TOTAL,
    RETRIES,
    rotwatch_config,
    run_rotwatch,
    status_for,
    workload,
    write_seeds,
)
from benchmarks.measure import BIN, Result, Setup, measure  # noqa: E402
from benchmarks.peers import run_floor  # noqa: E402
from benchmarks.servers import SERVERS, target_server  # noqa: E402


def pooled(pairs: list[tuple[float, float]]) -> float:
    """Sum of rotwatch's CPU over the sum of the floor's, for (floor, rotwatch) pairs."""
    floor = sum(f for f, _ in pairs)
    if floor <= 0:
        raise ValueError("no floor CPU measured")
    return sum(r for _, r in pairs) / floor


def one_round(work: Path, base: Path, urls: list[str], expected: dict[str, str],
              setup: Setup, n: int, timeout: float) -> tuple[Result, Result]:
    """The floor and rotwatch's first pass, floor first in even rounds."""
    data = work / f"data-p{setup.per_host}-r{n}"
    shutil.copytree(base, data)
    cfg = work / f"rotwatch-p{setup.per_host}.toml"
    rotwatch_config(cfg, setup, features=True)
    runs = [lambda: run_floor(work, urls, setup, timeout),
            lambda: run_rotwatch("rotwatch, defaults, first pass", data, cfg, expected,
                                 timeout)]
    if n % 2:
        runs.reverse()
    results = [run() for run in runs]
    shutil.rmtree(data, ignore_errors=True)
    floor, rotwatch = results if n % 2 == 0 else results[::-1]
    return floor, rotwatch


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--links", type=int, default=10_000, help="links to check (default 10000)")
    p.add_argument("--per-host", default="2,10", help="per-host limits (default 2,10)")
    p.add_argument("--rounds", type=int, default=3, help="alternated rounds (default 3)")
    p.add_argument("--server", choices=SERVERS, default="nginx",
                   help="target server (default nginx: it leaves the cores to the checkers)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    args = p.parse_args(argv)
    limits = [int(v) for v in args.per_host.split(",") if v.strip()]
    work = Path(tempfile.mkdtemp(prefix="rotwatch-bench-floor-ratio-"))
    wrong = 0
    try:
        pages = [(status_for(i), str(i)) for i in range(args.links)]
        with target_server(args.server, pages, hosts=HOSTS, delay_ms=DELAY_MS,
                           max_seconds=2 * args.rounds * len(limits) * args.timeout + 600
                           ) as srv:
            urls, expected = workload(srv, args.links)
            seeds = write_seeds(work / "seeds", urls)
            base = work / "base"
            ingest = Result("rotwatch ingest", args.links)
            measure([str(BIN / "rotwatch"), "--data-dir", str(base), "ingest", str(seeds)],
                    args.timeout, ingest)
            if ingest.exit_code != 0:
                print(f"ingest failed (exit {ingest.exit_code}){ingest.note}", file=sys.stderr)
                return 1
            for per_host in limits:
                setup = Setup(per_host, min(HOSTS * per_host, MAX_TOTAL), RETRIES)
                print(f"{args.links} links, {per_host}/host, {setup.total} total, server "
                      f"{args.server}; CPU-s per 1,000 links:", flush=True)
                pairs = []
                for n in range(args.rounds):
                    floor, rotwatch = one_round(work, base, urls, expected, setup, n,
                                                args.timeout)
                    wrong += rotwatch.wrong + rotwatch.missing
                    pairs.append((floor.cpu_s, rotwatch.cpu_s))
                    print(f"  round {n + 1} ({'floor first' if n % 2 == 0 else 'rotwatch first'}):"
                          f" floor {floor.cpu_per_1000:.2f}, rotwatch {rotwatch.cpu_per_1000:.2f}"
                          f" ({rotwatch.cpu_s / floor.cpu_s:.2f}×), rotwatch wrong "
                          f"{rotwatch.wrong}, missing {rotwatch.missing}", flush=True)
                ratio = pooled(pairs)
                print(f"  pooled over {args.rounds} rounds: {ratio:.2f}× the floor (goal ≤ "
                      f"{GOAL_FLOOR_RATIO}×: {'met' if ratio <= GOAL_FLOOR_RATIO else 'NOT met'})",
                      flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if wrong:
        print(f"BENCHMARK FAILED: {wrong} links misclassified or missing", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
