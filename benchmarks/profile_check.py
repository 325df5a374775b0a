"""Where a check's CPU goes: one crawl process under py-spy or cProfile, every default on.

    .venv/bin/python -m benchmarks.profile_check [--links 3000] [--per-host 10] [--passes 2]
        [--top 40] [--page-kb N] [--out /tmp/rotwatch-check.prof] [--py-spy [--gil]]

Starts the benchmark's mock server (benchmarks/check.py's workload), ingests the links,
and runs `rotwatch check --all` with `crawl.processes = 1` (the crawl then runs in this
very process) under cProfile, `--passes` times on the same store (the second pass is the
recheck). Prints the top functions by own time and by cumulative time of each pass and
keeps the profile files (`pstats`, or `snakeviz FILE`). cProfile sees only the reactor
thread and counts wall time (GIL waits included); with `--py-spy` (`pip install py-spy`)
every thread is sampled, idle time left out, and the top functions by own and by total
samples are printed from its collapsed stacks (`OUT.N.txt`); `--gil` samples only the
thread holding the GIL (py-spy counts a thread waiting for it as busy otherwise), which is
what the CPU shares in docs/benchmarks.md come from. The last two tables put each sample
under its deepest rotwatch frame (module, then function): rotwatch's own code together
with the library calls it makes, the driver (CLI, check orchestration) left out.
"""

from __future__ import annotations

import argparse
import pstats
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.check import DELAY_MS, HOSTS, status_for  # noqa: E402
from benchmarks.measure import BIN  # noqa: E402
from tests.conftest import MockServer  # noqa: E402

# rotwatch's own packages, as py-spy names their files (relative to the repository), and
# the frames that only run the crawl (the CLI, the check's orchestration): a sample's
# deepest rotwatch frame outside those is the rotwatch code it is spent for.
OWN_PACKAGES = ("core/", "crawler/", "archive/", "rotwatch/", "scheduler/")
DRIVERS = ("rotwatch/cli", "rotwatch/check.py", "rotwatch/progress.py",
           "rotwatch/crawl_process.py")


def deepest_own(frames: list[str]) -> tuple[str, str] | None:
    """(module path, function) of the deepest rotwatch frame of a stack, None without one."""
    found = None
    for frame in frames:
        where = frame.rsplit("(", 1)[-1].rstrip(")").split(":")[0]
        if where.startswith(OWN_PACKAGES) and not where.startswith(DRIVERS):
            found = (where, frame.split(" (")[0])
    return found


def print_collapsed(path: Path, top: int) -> None:
    """Own and total samples per function from py-spy's collapsed stacks, and each sample
    under its deepest rotwatch frame (rotwatch's code with the library calls it makes)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    modules: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        samples += n
        raw = stack.split(";")
        frames = [f.split(" (")[0] + " " + f.rsplit("/", 1)[-1].rstrip(")") for f in raw]
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
        deepest = deepest_own(raw)
        if deepest is not None:
            modules[deepest[0]] += n
            functions[f"{deepest[1]} {deepest[0]}"] += n
    print(f"{samples} samples")
    for title, table in (("own", own), ("total", total),
                         ("deepest rotwatch module", modules),
                         ("deepest rotwatch function", functions)):
        print(f"-- by {title} samples")
        for frame, n in table.most_common(top):
            print(f"{n / samples:7.1%}  {frame}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--links", type=int, default=3000)
    p.add_argument("--per-host", type=int, default=10)
    p.add_argument("--passes", type=int, default=2)
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--page-kb", type=int, default=0,
                   help="serve N KiB article-like pages instead of 200-byte ones")
    p.add_argument("--out", default="/tmp/rotwatch-check.prof")
    p.add_argument("--py-spy", action="store_true", help="sample with py-spy (all threads)")
    p.add_argument("--gil", action="store_true",
                   help="with --py-spy: sample only the thread holding the GIL")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="rotwatch-profile-"))
    try:
        with MockServer(hosts=["127.0.0.2-21"], delay_ms=DELAY_MS, tls=False, bomb_mb=0,
                        extra_args=["--validators", "on"]) as srv:
            seeds = work / "seeds"
            seeds.mkdir()
            size = f"?kb={args.page_kb}" if args.page_kb else ""
            for n, start in enumerate(range(0, args.links, 1000)):
                (seeds / f"seed-{n}.md").write_text("".join(
                    f"- [l]({srv.url(f'/bench/{status_for(i)}/{i}{size}', host=1 + i % HOSTS)})\n"
                    for i in range(start, min(start + 1000, args.links))), encoding="utf-8")
            data = work / "data"
            subprocess.run([str(BIN / "rotwatch"), "--data-dir", str(data), "ingest",
                            str(seeds)], check=True, capture_output=True)
            cfg = work / "rotwatch.toml"
            cfg.write_text(f"[crawl]\nconcurrency_per_host = {args.per_host}\n"
                           f"concurrency_total = {min(128, HOSTS * args.per_host)}\n"
                           "delay_per_host = 0\nprocesses = 1\n", encoding="utf-8")
            for n in range(1, args.passes + 1):
                out = f"{args.out}.{n}"
                check = [str(BIN / "rotwatch"), "--config", str(cfg), "--data-dir", str(data),
                         "check", "--all", "--allow-private"]
                print(f"==== pass {n}: {out}")
                # A reactor runs once per process: each pass is its own profiled process.
                if args.py_spy:
                    subprocess.run([str(BIN / "py-spy"), "record", "--format", "raw",
                                    "--rate", "250", *(["--gil"] if args.gil else []),
                                    "--output", out + ".txt", "--", *check],
                                   check=False, capture_output=True)
                    print_collapsed(Path(out + ".txt"), args.top)
                    continue
                subprocess.run([sys.executable, "-m", "cProfile", "-o", out, *check],
                               check=False, capture_output=True)
                stats = pstats.Stats(out)
                stats.sort_stats("tottime").print_stats(args.top)
                stats.sort_stats("cumulative").print_stats(args.top)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
