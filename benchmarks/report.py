"""Report benchmark: `rotwatch report` over synthetic stores, every format, all states.

    .venv/bin/python -m benchmarks.report [--links 10000,100000] [--passes 1,30]
        [--formats text,markdown,html,csv,json,junit] [--baseline REV] [--baseline-links N]
        [--timeout S] [--repeat N] [--work DIR] [--json]

Stores are built through the `Store` API (benchmarks/report_store.py, no crawl) and kept
in --work between runs. Each measurement is one child process running the real command,
`python -m rotwatch --data-dir D report --format F --state <all 8 states> -o FILE`; wall
time around it, peak RSS from `os.wait4`. `--baseline REV` also runs the same command from
a `git archive` of REV (the code before this change) on the same stores, up to
--baseline-links links, so before and after come from one run on one machine.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.report_store import build

ROOT = Path(__file__).resolve().parents[1]
STATES = ("dead", "failing", "changed", "moved", "recovered", "blocked", "alive", "new")
FORMATS = ("text", "markdown", "html", "csv", "json", "junit")
GOAL_S, GOAL_GROWTH, GOAL_HISTORY, GOAL_RSS_MB = 10.0, 12.0, 1.5, 300.0


@dataclass
class Result:
    code: str  # "new" or the baseline revision
    links: int
    passes: int
    fmt: str
    wall_s: float = 0.0
    cpu_s: float = 0.0  # user + system: what the report cost, whatever else ran
    rss_mb: float = 0.0
    exit_code: int = 0
    timed_out: bool = False
    out_mb: float = 0.0


def _measure(cmd: list[str], cwd: Path, timeout: float, result: Result) -> None:
    env = {**os.environ, "PYTHONPATH": str(cwd), "TZ": "Europe/Berlin"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = start + timeout
    while True:  # bounded by the deadline
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            result.timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.01)
    result.wall_s = round(time.perf_counter() - start, 2)
    result.rss_mb = round(usage.ru_maxrss / 1024, 1)
    result.cpu_s = round(usage.ru_utime + usage.ru_stime, 2)
    result.exit_code = os.waitstatus_to_exitcode(status)


def _baseline_tree(rev: str, work: Path) -> Path:
    tree = work / f"code-{rev}"
    if not tree.is_dir():
        archive = work / f"{rev}.tar"
        subprocess.run(["git", "archive", "-o", str(archive), rev], cwd=ROOT, check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(tree, filter="data")
    return tree


def _store(work: Path, links: int, passes: int) -> Path:
    data = work / f"store-{links}-{passes}"
    done = data / "built"
    if not done.exists():
        data.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        build(data / "rotwatch.db", links, passes)
        done.write_text(f"{time.perf_counter() - started:.1f}\n")
        print(f"built {links} links x {passes} passes in {done.read_text().strip()} s",
              file=sys.stderr)
    return data


def run_one(code: str, tree: Path, data: Path, links: int, passes: int, fmt: str,
            timeout: float, repeat: int = 1) -> Result:
    """The best of `repeat` runs (least CPU): on a shared machine the others only add noise."""
    runs = []
    for _ in range(repeat):
        runs.append(_run_once(code, tree, data, links, passes, fmt, timeout))
        if runs[-1].timed_out:
            break  # a run that did not finish in time is not tried again
    best = min(runs, key=lambda r: (r.timed_out, r.cpu_s))
    print(json.dumps(asdict(best)), file=sys.stderr, flush=True)
    return best


def _run_once(code: str, tree: Path, data: Path, links: int, passes: int, fmt: str,
              timeout: float) -> Result:
    result = Result(code, links, passes, fmt)
    out = data / f"out-{code}.{fmt}"
    cmd = [sys.executable, "-m", "rotwatch", "--data-dir", str(data), "report", "--format",
           fmt, "-o", str(out)]
    for state in STATES:
        cmd += ["--state", state]
    _measure(cmd, tree, timeout, result)
    if out.exists():
        result.out_mb = round(out.stat().st_size / 1e6, 1)
        out.unlink()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", default="10000,100000")
    parser.add_argument("--passes", default="1,30")
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--baseline", help="git revision of the code to compare against")
    parser.add_argument("--baseline-links", type=int, default=10000)
    parser.add_argument("--baseline-formats", default="json,html")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--work", type=Path,
                        default=Path(tempfile.gettempdir()) / "rotwatch-bench-report")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per measurement; the one with the least CPU is kept")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    sizes = [int(x) for x in args.links.split(",")]
    passes = [int(x) for x in args.passes.split(",")]
    results: list[Result] = []
    for links in sizes:
        for p in passes:
            data = _store(args.work, links, p)
            if args.baseline and links <= args.baseline_links:
                tree = _baseline_tree(args.baseline, args.work)
                for fmt in args.baseline_formats.split(","):
                    results.append(run_one(args.baseline, tree, data, links, p, fmt,
                                           args.timeout))
            for fmt in [f for f in args.formats.split(",") if f]:
                results.append(run_one("new", ROOT, data, links, p, fmt, args.timeout,
                                       args.repeat))
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        table(results)
    return 0


def _cell(r: Result | None) -> str:
    if r is None:
        return "—"
    if r.timed_out:
        return f"> {r.wall_s:.0f} s (stopped)"
    return f"{r.wall_s:.2f} s ({r.cpu_s:.2f} s CPU), {r.rss_mb:.0f} MB" + (f" (exit {r.exit_code})"
                                                    if r.exit_code not in (0, 2) else "")


def table(results: list[Result]) -> None:
    keys = sorted({(r.code, r.links, r.fmt) for r in results}, key=lambda k: (k[0] != "new",
                                                                               k[1], k[2]))
    passes = sorted({r.passes for r in results})
    find = {(r.code, r.links, r.fmt, r.passes): r for r in results}
    print("| code | links | format | " + " | ".join(f"after {p} pass(es)" for p in passes)
          + " | history ratio |")
    print("|---|---:|---|" + "---:|" * (len(passes) + 1))
    for code, links, fmt in keys:
        row = [find.get((code, links, fmt, p)) for p in passes]
        done = [r for r in row if r and not r.timed_out]
        ratio = (f"{done[-1].wall_s / done[0].wall_s:.2f}× wall, "
                 f"{done[-1].cpu_s / max(done[0].cpu_s, 0.01):.2f}× CPU") if len(done) > 1 else "—"
        print(f"| {code} | {links:,} | {fmt} | " + " | ".join(_cell(r) for r in row)
              + f" | {ratio} |")
    news = [r for r in results if r.code == "new"]
    sizes = sorted({r.links for r in news})
    if len(sizes) > 1:
        for p in passes:
            for fmt in sorted({r.fmt for r in news}):
                small = find.get(("new", sizes[0], fmt, p))
                big = find.get(("new", sizes[-1], fmt, p))
                if small and big and small.wall_s:
                    print(f"| growth 10× links, {fmt}, after {p} pass(es) | "
                          f"{big.wall_s / small.wall_s:.2f}× wall | "
                          f"{big.cpu_s / max(small.cpu_s, 0.01):.2f}× CPU |")


if __name__ == "__main__":
    sys.exit(main())
