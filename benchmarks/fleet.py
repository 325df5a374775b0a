"""Fleet benchmark: one check over 1 Scrapyd node, then over 2, each node pinned to a core.

    .venv/bin/python -m benchmarks.fleet [--links 3000] [--rounds 2] [--json]

Workload: ``--links`` URLs ``/bench/<status>/<i>`` round-robin over 20 loopback hosts of
one ``tests.mockserver`` process (no delay: the crawl is CPU-bound, which is what more
nodes are for). Status mix as benchmarks/check.py (85 % 200, 7 % 404, 5 % 301, 3 % 500).
Crawl settings: 2 requests in flight per host, 64 in total, no per-host delay, no retries,
no robots.txt, no soft-404 probe, snapshots ON (WARC files and main text, as by default).

Nodes are real ``scrapyd`` servers (tests/fleet.py) started under ``taskset``: node 1 on
core 0, node 2 on core 1, so each crawl (and its text-extraction worker) has one core. The
coordinator (`rotwatch check`) and the mock server are not pinned. Each round runs 1 node,
then 2 nodes, each on a fresh copy of one ingested store; rounds alternate so drift in the
machine's load hits both alike. Reported per run: wall time of the whole check (deploy,
scheduling, crawl, gathering), crawl time (first job start to last job end, as Scrapyd
reports them), the coordinator's own CPU (os.wait4) and the nodes' CPU (their scrapyd
processes' reaped children, via psutil), each per link.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rotwatch.cluster.scrapyd_api import ScrapydNode  # noqa: E402
from tests.conftest import MockServer  # noqa: E402
from tests.fleet import ScrapydServer  # noqa: E402
from tests.helpers import write_config  # noqa: E402

HOSTS = 20
CRAWL = {"retry_times": 0, "soft404_probe": False, "obey_robots": False,
         "concurrency_per_host": 2, "concurrency_total": 64, "delay_per_host": 0}


def status_for(i: int) -> int:
    r = i % 100
    return 200 if r < 85 else 404 if r < 92 else 301 if r < 97 else 500


def children_cpu(server: ScrapydServer) -> float:
    assert server.proc is not None
    times = psutil.Process(server.proc.pid).cpu_times()
    return float(times.children_user + times.children_system)


def job_span(nodes: list[ScrapydServer], since: datetime) -> float:
    """First start to last end of the jobs started after `since` (Scrapyd's local time)."""
    starts, ends = [], []
    for server in nodes:
        for job in ScrapydNode(server.url).jobs_detail()["finished"]:
            started = datetime.fromisoformat(job["start_time"])
            if started >= since:
                starts.append(started)
                ends.append(datetime.fromisoformat(job["end_time"]))
    return (max(ends) - min(starts)).total_seconds() if starts else float("nan")


def run_once(base: Path, store: Path, seed_cfg: Path, nodes: list[ScrapydServer],
             links: int, tag: str) -> dict[str, Any]:
    data = base / f"data-{tag}"
    shutil.copytree(store, data)
    cfg = base / f"{tag}.toml"
    shutil.copy(seed_cfg, cfg)
    with cfg.open("a", encoding="utf-8") as out:
        out.write(f"\n[cluster]\nscrapyd = {json.dumps([n.url for n in nodes])}\n"
                  f'shared_dir = "{base / ("shared-" + tag)}"\npoll_interval = 0.2\n')
    before = [children_cpu(n) for n in nodes]
    since = datetime.now()  # Scrapyd reports local, naive times
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "rotwatch", "--data-dir", str(data),
                             "--config", str(cfg), "check", "--allow-private"], cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 2):
        raise SystemExit(f"check failed ({code}): {err[-1500:]}")
    node_cpu = sum(children_cpu(n) - b for n, b in zip(nodes, before, strict=True))
    coordinator_cpu = usage.ru_utime + usage.ru_stime
    crawl = job_span(nodes, since)
    return {"nodes": len(nodes), "wall_s": round(wall, 2), "crawl_s": round(crawl, 2),
            "links_per_s_crawl": round(links / crawl, 1),
            "coordinator_cpu_ms_per_link": round(1000 * coordinator_cpu / links, 3),
            "node_cpu_ms_per_link": round(1000 * node_cpu / links, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="rotwatch-fleet-bench-"))
    results: list[dict[str, Any]] = []
    try:
        with MockServer(hosts=[f"127.0.0.2-{HOSTS + 1}"], tls=False, bomb_mb=0) as mock:
            seed = base / "seed.md"
            seed.write_text("# Bench\n\n" + "\n".join(
                f"- [l{i}]({mock.url(f'/bench/{status_for(i)}/{i}', host=i % HOSTS + 1)})"
                for i in range(args.links)) + "\n", encoding="utf-8")
            cfg = write_config(base / "crawl.toml", **CRAWL)
            store = base / "store"
            subprocess.run([sys.executable, "-m", "rotwatch", "--data-dir", str(store),
                            "--config", str(cfg), "ingest", str(seed)], cwd=ROOT,
                           check=True, capture_output=True)
            servers = [ScrapydServer(base / "node-1", "127.0.0.2", cpus="0"),
                       ScrapydServer(base / "node-2", "127.0.0.3", cpus="1")]
            for server in servers:
                server.start()
            try:
                # A first, unmeasured run deploys the egg to both nodes and warms caches.
                run_once(base, store, cfg, servers, args.links, "warmup")
                for r in range(args.rounds):
                    for count in (1, 2):
                        results.append(run_once(base, store, cfg, servers[:count],
                                                args.links, f"r{r}-n{count}"))
                        print(json.dumps(results[-1]), file=sys.stderr)
            finally:
                for server in servers:
                    server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    one = [r for r in results if r["nodes"] == 1]
    two = [r for r in results if r["nodes"] == 2]
    summary = {
        "links": args.links, "rounds": args.rounds, "runs": results,
        "speedup_crawl": round(sum(r["crawl_s"] for r in one) / sum(r["crawl_s"] for r in two),
                               2),
        "speedup_wall": round(sum(r["wall_s"] for r in one) / sum(r["wall_s"] for r in two), 2),
    }
    print(json.dumps(summary, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
