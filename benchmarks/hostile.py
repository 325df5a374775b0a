"""Hostile-servers benchmark: the table of docs/security.md, measured.

    .venv/bin/python -m benchmarks.hostile [--normal 20] [--json]

Runs two crawls with the settings of tests/test_hostile_servers.py (max_mb = 1, timeout = 4,
retry_times = 1, retry_after_cap = 3, target_budget = 20): a baseline over ``--normal``
ordinary pages of the loopback mock server, then the same pages plus every case of
``tests.hostile_server`` (one loopback host each). Prints a Markdown table, one row per
case: verdict, the check's ``elapsed`` (download time over its hops; a retry's earlier
attempt is not counted), its retries, seconds from the start of the crawl to the verdict
(start-up included), and whether the body was cut; then wall time and peak RSS of both
crawls (the largest single process of the crawl's tree, and the largest sum over the tree).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import MockServer  # noqa: E402 - needs the path tweak above
from tests.hostile_crawl import CrawlRun, HostileServer, crawl, normal_urls  # noqa: E402


def _row(case: str, url: str, run: CrawlRun) -> dict[str, object]:
    check = run.checks.get(url)
    if check is None:
        return {"case": case, "verdict": "(none)", "elapsed": None, "retries": None,
                "to_verdict": None, "truncated": None, "reason": ""}
    done = datetime.fromisoformat(check["checked_at"]).timestamp() - run.started
    reason = check["reason"] or ""
    if check["error_message"]:
        reason += f" ({check['error_message']})"
    return {"case": case, "verdict": check["verdict"], "elapsed": check["elapsed"],
            "retries": check["retries"], "to_verdict": round(done),
            "truncated": bool(check["truncated"]),
            "reason": " ".join(reason.split())[:90]}


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value).replace("|", "\\|") if value is not None else "–"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--normal", type=int, default=20, help="ordinary pages in each crawl")
    parser.add_argument("--json", action="store_true", help="JSON instead of Markdown")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rotwatch-hostile-bench-") as tmp, \
            MockServer(hosts=["127.0.0.1", "127.0.0.2"], tls=False, bomb_mb=0,
                       max_seconds=900) as mock, HostileServer(max_seconds=900) as hostile:
        normal = normal_urls(mock.hosts, args.normal)
        baseline = crawl(Path(tmp) / "baseline", normal)
        run = crawl(Path(tmp) / "hostile", [*hostile.cases.values(), *normal])
    rows = [_row(case, url, run) for case, url in sorted(hostile.cases.items())]
    normal_ok = sum(run.checks.get(url, {}).get("verdict") == "ok" for url in normal)
    summary = {
        "baseline": {"targets": len(normal), "wall_s": round(baseline.wall, 1),
                     "peak_process_mb": round(baseline.peak_process_mb),
                     "peak_tree_mb": round(baseline.peak_tree_mb)},
        "hostile": {"targets": len(rows) + len(normal), "wall_s": round(run.wall, 1),
                    "peak_process_mb": round(run.peak_process_mb),
                    "peak_tree_mb": round(run.peak_tree_mb), "normal_ok": normal_ok,
                    "traceback": "Traceback" in run.stderr, "exit_code": run.returncode},
    }
    if args.json:
        print(json.dumps({"cases": rows, "summary": summary}, indent=2))
        return 0
    print("| case | verdict | elapsed s | retries | verdict at s | truncated | reason |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(_cell(row[k]) for k in (
            "case", "verdict", "elapsed", "retries", "to_verdict", "truncated", "reason"))
              + " |")
    print()
    print("| crawl | targets | wall s | peak RSS, one process MB | peak RSS, whole tree MB |")
    print("|---|---|---|---|---|")
    for name, s in summary.items():
        print(f"| {name} | {s['targets']} | {s['wall_s']} | {s['peak_process_mb']} | "
              f"{s['peak_tree_mb']} |")
    hostile_summary = summary["hostile"]
    print(f"\nnormal pages ok: {normal_ok}/{len(normal)}; exit code "
          f"{hostile_summary['exit_code']}; traceback in stderr: "
          f"{hostile_summary['traceback']}")
    if run.returncode not in (0, 2):  # 2 = dead links found, the expected outcome here
        print(f"\ncrawl failed:\n{run.stderr[-3000:]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
