"""The fixed cost of a check: the parent and the crawl processes' start, A/B in one run.

    .venv/bin/python -m benchmarks.process_start [--links 200] [--processes 2]
        [--rounds 5] [--base GIT-REV] [--server nginx|mock]

First, in this process, the start alone: `--processes` children that import what a
crawl process imports before its crawl, started with `spawn` (as before issue 13's
fork server) and from the fork server (rotwatch.crawl_start), interleaved, `--rounds`
times each: wall from the first start to the last exit, and the CPU of every process
started (the server included: it is stopped and reaped).

Serves benchmarks/check.py's workload (`--links` links over its 20 hosts, every default
on, 10 per host), ingests it once, and then runs `rotwatch check --all` on a fresh copy
of that store `--rounds` times for each side, the sides interleaved (A B A B ...): the
worktree's code, and the code of `--base` (a git revision, exported to a temporary
directory and put first on PYTHONPATH, so the same venv runs the older modules). With so
few links the crawl itself is short, so the difference between the sides is the fixed
cost. Each run is followed by one with nothing due (`rotwatch check`, no `--all`, on a store
its first run just checked): the parent alone. Prints the minimum (and median) wall and
CPU of the whole process tree per side, and their ratio; every run must classify every
link as expected.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.check import (  # noqa: E402
    DELAY_MS,
    EXPECTED,
    HOSTS,
    rotwatch_verdicts,
    status_for,
)
from benchmarks.measure import BIN, Result, measure, score  # noqa: E402
from benchmarks.servers import SERVERS, target_server  # noqa: E402


def export(rev: str, into: Path) -> None:
    """The tree of `rev` in `into` (git archive: the worktree itself is not touched)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


# What a crawl process imports before its crawl starts (exec is picklable by name).
_LOAD = ("import rotwatch.shards\nfrom rotwatch.crawl_process import CRAWL_MODULES\n"
         "for name in CRAWL_MODULES:\n    __import__(name)\n")


def start_cost(method: str, count: int) -> tuple[float, float]:
    """Wall and CPU seconds to start `count` loaded crawl processes and see them end."""
    from rotwatch import crawl_start

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    ctx = crawl_start.context() if method == "fork server" else multiprocessing.get_context(
        "spawn")
    crawl_start.start_server(ctx)
    children = [ctx.Process(target=exec, args=(_LOAD,)) for _ in range(count)]
    for child in children:
        child.start()
    for child in children:
        child.join()
    crawl_start.stop_server(ctx)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--links", type=int, default=200)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--base", default="main", help="git revision to compare with")
    p.add_argument("--server", choices=SERVERS, default="nginx")
    args = p.parse_args(argv)
    costs: dict[str, list[tuple[float, float]]] = {"spawn": [], "fork server": []}
    for _ in range(args.rounds):
        for method, got in costs.items():
            got.append(start_cost(method, args.processes))
    print(f"starting {args.processes} crawl processes (min of {args.rounds}):")
    for method, got in costs.items():
        print(f"  {method:11} wall {min(w for w, _ in got):.2f} s, "
              f"CPU {min(c for _, c in got):.2f} s")
    work = Path(tempfile.mkdtemp(prefix="rotwatch-start-"))
    try:
        export(args.base, work / "base")
        sides = {"base": str(work / "base"), "this": str(ROOT)}
        pages = [(status_for(i), str(i)) for i in range(args.links)]
        with target_server(args.server, pages, hosts=HOSTS, delay_ms=DELAY_MS) as srv:
            urls = [srv.url(f"/bench/{status_for(i)}/{i}", host=1 + i % HOSTS)
                    for i in range(args.links)]
            expected = {u: EXPECTED[status_for(i)] for i, u in enumerate(urls)}
            seeds = work / "seeds"
            seeds.mkdir()
            (seeds / "seed.md").write_text("".join(f"- [link {i}]({u})\n"
                                                   for i, u in enumerate(urls)),
                                           encoding="utf-8")
            pristine = work / "pristine"
            measure([str(BIN / "rotwatch"), "--data-dir", str(pristine), "ingest",
                     str(seeds)], 600, Result("ingest", args.links))
            cfg = work / "rotwatch.toml"
            cfg.write_text(f"[crawl]\nconcurrency_per_host = 10\nconcurrency_total = 128\n"
                           f"delay_per_host = 0\nprocesses = {args.processes}\n",
                           encoding="utf-8")
            runs: dict[str, list[Result]] = {side: [] for side in sides}
            idle: dict[str, list[Result]] = {side: [] for side in sides}
            for n in range(args.rounds):
                for side, path in sides.items():
                    data = work / f"data-{side}-{n}"
                    shutil.copytree(pristine, data)
                    env = dict(os.environ, PYTHONPATH=path)
                    result = Result(side, args.links)
                    measure([str(BIN / "rotwatch"), "--config", str(cfg), "--data-dir",
                             str(data), "check", "--all", "--allow-private"], 600, result,
                            env=env)
                    score(result, expected, rotwatch_verdicts(data))
                    runs[side].append(result)
                    idle[side].append(Result(side + ", nothing due", 0))
                    measure([str(BIN / "rotwatch"), "--config", str(cfg), "--data-dir",
                             str(data), "check", "--allow-private"], 600, idle[side][-1],
                            env=env)
        print(f"{args.links} links, processes = {args.processes}, {args.rounds} rounds "
              f"(min / median), base = {args.base}")
        for side, results in runs.items():
            walls = [r.wall_s for r in results]
            cpus = [r.cpu_s for r in results]
            wrong = sum(r.wrong + r.missing for r in results)
            notes = "".join(r.note for r in results)
            print(f"  {side:5} wall {min(walls):5.2f} / {statistics.median(walls):5.2f} s, "
                  f"CPU {min(cpus):5.2f} / {statistics.median(cpus):5.2f} s, "
                  f"misclassified {wrong}{notes}; nothing due: wall "
                  f"{min(r.wall_s for r in idle[side]):.2f} s, CPU "
                  f"{min(r.cpu_s for r in idle[side]):.2f} s")
        def ratio(field: str, got: dict[str, list[Result]]) -> float:
            return (min(getattr(r, field) for r in got["this"])
                    / min(getattr(r, field) for r in got["base"]))

        print(f"  this/base: wall {ratio('wall_s', runs):.2f}, CPU {ratio('cpu_s', runs):.2f}; "
              f"nothing due: wall {ratio('wall_s', idle):.2f}, CPU {ratio('cpu_s', idle):.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
