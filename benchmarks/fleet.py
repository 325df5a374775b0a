"""Fleet benchmark: one check over 1 Scrapyd node, then over 2, each node pinned to a core.

    .venv/bin/python -m benchmarks.fleet [--links 3000] [--rounds 2] [--json]
        [--server nginx|mock] [--server-cpus LIST]

Workload: ``--links`` URLs ``/bench/<status>/<i>`` round-robin over 20 loopback hosts of
one target server (``--server``: ``tests.mockserver``, a Python process, or nginx,
benchmarks/nginx_server.py, which leaves the cores to the nodes; ``--server-cpus`` pins
nginx with taskset), no delay: the crawl is CPU-bound, which is what more nodes are for.
Status mix 85 % 200, 7 % 404, 5 % 301, 3 % 500; every verdict is scored against it
(misclassified and missing, as benchmarks/check.py does). Crawl settings changed from the
defaults: 2 requests in flight per host, 64 in total, no per-host delay, no retries, no
robots.txt, no soft-404 probe; snapshots ON (WARC files and main text, as by default).

Nodes are real ``scrapyd`` servers (tests/fleet.py) started under ``taskset``: node 1 on
core 0, node 2 on core 1, so each crawl (and its text-extraction worker) has one core. The
coordinator (`rotwatch check`) is not pinned. Each round runs 1 node,
then 2 nodes, each on a fresh copy of one ingested store; rounds alternate so drift in the
machine's load hits both alike. Reported per run: wall time of the whole check (deploy,
scheduling, crawl, gathering), crawl time (first job start to last job end, as Scrapyd
reports them), the coordinator's own CPU (os.wait4), the nodes' CPU (their scrapyd
processes' reaped children, via psutil) and the server's, each per link, and the whole
machine's busy CPU over the run (/proc/stat): what is left of it is other work on the
same cores.
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

from benchmarks.check import rotwatch_verdicts  # noqa: E402
from benchmarks.servers import SERVERS, TargetServer, target_server  # noqa: E402
from rotwatch.cluster.scrapyd_api import ScrapydNode  # noqa: E402
from tests.fleet import ScrapydServer  # noqa: E402

HOSTS = 20
# Every setting changed from rotwatch's defaults; nothing else is.
CRAWL = {"retry_times": 0, "soft404_probe": "false", "obey_robots": "false",
         "concurrency_per_host": 2, "concurrency_total": 64, "delay_per_host": 0}
EXPECTED = {200: "ok", 404: "broken", 301: "redirected", 500: "server-error"}


def status_for(i: int) -> int:
    r = i % 100
    return 200 if r < 85 else 404 if r < 92 else 301 if r < 97 else 500


def machine_busy_s() -> float:
    """CPU seconds all cores have spent busy since boot (/proc/stat: all but idle, iowait)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


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
             expected: dict[str, str], tag: str, server: TargetServer) -> dict[str, Any]:
    links = len(expected)
    data = base / f"data-{tag}"
    shutil.copytree(store, data)
    cfg = base / f"{tag}.toml"
    shutil.copy(seed_cfg, cfg)
    with cfg.open("a", encoding="utf-8") as out:
        out.write(f"\n[cluster]\nscrapyd = {json.dumps([n.url for n in nodes])}\n"
                  f'shared_dir = "{base / ("shared-" + tag)}"\npoll_interval = 0.2\n')
    before = [children_cpu(n) for n in nodes]
    served, busy = server.usage(), machine_busy_s()
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
    busy = machine_busy_s() - busy
    served = server.usage() - served
    node_cpu = sum(children_cpu(n) - b for n, b in zip(nodes, before, strict=True))
    coordinator_cpu = usage.ru_utime + usage.ru_stime
    crawl = job_span(nodes, since)
    got = rotwatch_verdicts(data)
    wrong = sum(1 for url, want in expected.items() if got.get(url, want) != want)
    missing = sum(1 for url in expected if url not in got)
    return {"nodes": len(nodes), "wall_s": round(wall, 2), "crawl_s": round(crawl, 2),
            "links_per_s_crawl": round(links / crawl, 1),
            "coordinator_cpu_ms_per_link": round(1000 * coordinator_cpu / links, 3),
            "node_cpu_ms_per_link": round(1000 * node_cpu / links, 3),
            "server_cpu_ms_per_link": round(1000 * served.cpu_s / links, 3),
            "server_requests": served.requests,
            "machine_busy_cores": round(busy / wall, 2),
            "other_cpu_s": round(busy - node_cpu - coordinator_cpu - served.cpu_s, 1),
            "misclassified": wrong, "missing": missing}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--server", choices=SERVERS, default="mock",
                        help="target server (default mock, as the earlier figures)")
    parser.add_argument("--server-cpus", default=None,
                        help="pin nginx to these cores (taskset list; default: not pinned)")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="rotwatch-fleet-bench-"))
    results: list[dict[str, Any]] = []
    try:
        pages = [(status_for(i), str(i)) for i in range(args.links)]
        with target_server(args.server, pages, hosts=HOSTS, delay_ms=0, validators=False,
                           cpus=args.server_cpus) as srv:
            urls = [srv.url(f"/bench/{status_for(i)}/{i}", host=i % HOSTS + 1)
                    for i in range(args.links)]
            expected = {u: EXPECTED[status_for(i)] for i, u in enumerate(urls)}
            seed = base / "seed.md"
            seed.write_text("# Bench\n\n" + "\n".join(
                f"- [l{i}]({u})" for i, u in enumerate(urls)) + "\n", encoding="utf-8")
            cfg = base / "crawl.toml"
            cfg.write_text("[crawl]\n" + "".join(f"{k} = {v}\n" for k, v in CRAWL.items()),
                           encoding="utf-8")
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
                run_once(base, store, cfg, servers, expected, "warmup", srv)
                for r in range(args.rounds):
                    for count in (1, 2):
                        results.append(run_once(base, store, cfg, servers[:count],
                                                expected, f"r{r}-n{count}", srv))
                        print(json.dumps(results[-1]), file=sys.stderr)
            finally:
                for server in servers:
                    server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    one = [r for r in results if r["nodes"] == 1]
    two = [r for r in results if r["nodes"] == 2]
    summary = {
        "links": args.links, "rounds": args.rounds, "server": args.server,
        "server_cpus": args.server_cpus, "runs": results,
        "speedup_crawl": round(sum(r["crawl_s"] for r in one) / sum(r["crawl_s"] for r in two),
                               2),
        "speedup_wall": round(sum(r["wall_s"] for r in one) / sum(r["wall_s"] for r in two), 2),
        # Equal CPU per link on 1 and 2 nodes: the work itself scales linearly.
        "node_cpu_per_link_2_over_1": round(
            sum(r["node_cpu_ms_per_link"] for r in two)
            / sum(r["node_cpu_ms_per_link"] for r in one), 2),
    }
    print(json.dumps(summary, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
