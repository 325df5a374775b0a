"""A first pass through the Recorder, in process: the reactor's hand-over and the worker's
archive, prepare and record per check, in this tree and in another.

    .venv/bin/python -m benchmarks.recorder_handover [--targets 2000] [--rounds 5]
        [--page-kb 2] [--base DIR]

A real SQLite store with `--targets` targets never checked and a real WARC directory; for
each target the calling thread (the reactor's part) hands `Recorder.archive` an exchange
(a page of about `--page-kb` KiB) and `Recorder.add` its outcome (the page's body and
visible text), as rotwatch.pipeline does, then closes the Recorder (every row recorded,
the WARC file indexed). Prints µs per check of the calling thread's CPU time and of the
whole process's (the worker's included), the minimum over `--rounds` fresh stores. With
`--base DIR` (a tree exported with `git archive`), each round runs both trees in turn,
each in its own interpreter, and checks that both recorded the same rows.
"""

from __future__ import annotations

import sys
from pathlib import Path

if "--tree" in sys.argv:  # the tree measured goes first on the path (before this one)
    sys.path.insert(0, sys.argv[sys.argv.index("--tree") + 1])
else:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import hashlib
import json
import sqlite3
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _url(i: int) -> str:
    return f"http://127.0.0.{2 + i % 20}:8080/bench/200/{i}"


def _one(directory: Path, targets: int, page_kb: int) -> dict[str, Any]:
    from archive.store.store import Store
    from core.exchange import Exchange
    from core.policy_config import DEFAULT_CONFIG
    from core.records import Hop, Observation
    from core.verdict import judge
    from crawler.fetch.items import Outcome
    from rotwatch.recorder import Recorder

    store = Store(directory / "rotwatch.db")
    store.db.conn.executemany(
        "INSERT INTO targets (id, key, url, host, checkable, first_seen_at) "
        "VALUES (?, ?, ?, ?, 1, ?)",
        [(i, f"k{i}", _url(i), f"127.0.0.{2 + i % 20}", T0.isoformat())
         for i in range(1, targets + 1)])
    store.db.conn.commit()
    store.close()
    work = []
    for i in range(1, targets + 1):
        text = " ".join(f"paragraph {i}-{n}: the quick brown fox jumps" for n in
                        range(max(1, page_kb * 20)))
        body = f"<html><title>page {i}</title><body><p>{text}</p></body></html>".encode()
        headers = (("Content-Type", "text/html; charset=utf-8"),
                   ("Content-Length", str(len(body))), ("ETag", f'"{i}"'))
        at = T0 + timedelta(microseconds=16_667 * i)
        exchange = Exchange(
            url=_url(i), method="GET", request_headers=(("Accept", "text/html"),),
            status=200, reason="OK", http_version="HTTP/1.1", response_headers=headers,
            body=body, truncated=False, fetched_at=at, ip_address="127.0.0.2")
        obs = Observation(_url(i), (Hop(_url(i), 200),), headers=headers,
                          content_type="text/html; charset=utf-8", title=f"page {i}",
                          text=text, length=len(body))
        work.append((exchange, Outcome(i, f"k{i}", f"127.0.0.{2 + i % 20}", obs, judge(obs),
                                       at, body=body, encoding="utf-8")))
    recorder = Recorder(directory / "rotwatch.db", directory / "warcs", run_id=None,
                        policy=DEFAULT_CONFIG)
    process, thread = time.process_time(), time.thread_time()
    for exchange, outcome in work:
        record = recorder.archive(exchange, outcome.target_id)
        recorder.add(Outcome(outcome.target_id, outcome.key, outcome.host,
                             outcome.observation, outcome.judgement, outcome.checked_at,
                             body=outcome.body, encoding="utf-8", warc=record))
    thread = time.thread_time() - thread
    recorder.close()
    process = time.process_time() - process
    if recorder.error is not None:
        raise SystemExit(f"the Recorder failed: {recorder.error}")
    conn = sqlite3.connect(directory / "rotwatch.db")
    try:
        rows = [list(r) for r in conn.execute(
            "SELECT c.target_id, c.status, c.verdict, c.content_hash, s.record_type, "
            "s.title, s.text, s.payload_digest, t.state, t.validators, t.recent_checks "
            "FROM checks c LEFT JOIN snapshots s ON s.id = c.snapshot_id JOIN targets t ON "
            "t.id = c.target_id ORDER BY c.id")]
    finally:
        conn.close()
    return {"handover_us": thread / targets * 1e6, "process_us": process / targets * 1e6,
            "rows": hashlib.sha256(json.dumps(rows).encode()).hexdigest()}


def _run(tree: str, args: argparse.Namespace) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--one", "--targets", str(args.targets), "--page-kb",
         str(args.page_kb), "--tree", tree], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{tree}: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--targets", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--page-kb", type=int, default=2)
    p.add_argument("--base", help="another tree (git archive) to measure against")
    p.add_argument("--tree", help=argparse.SUPPRESS)
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(_one(Path(tmp), args.targets, args.page_kb)))
        return 0
    trees = {"this": str(Path(__file__).resolve().parents[1])} | (
        {"base": args.base} if args.base else {})
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for _ in range(args.rounds):  # interleaved: both trees see the same load
        for name, tree in trees.items():
            runs[name].append(_run(tree, args))
    if len({r["rows"] for results in runs.values() for r in results}) != 1:
        raise SystemExit("the trees (or rounds) recorded different rows")
    best = {name: {key: min(r[key] for r in results) for key in ("handover_us", "process_us")}
            for name, results in runs.items()}
    for name, figures in best.items():
        print(f"{name}: hand-over {figures['handover_us']:.1f} µs, process "
              f"{figures['process_us']:.1f} µs per check (min of {args.rounds}, "
              f"{args.targets} checks, {args.page_kb} KiB pages)")
    if "base" in best:
        this, base = best["this"], best["base"]
        print(f"this/base: hand-over {this['handover_us'] / base['handover_us']:.3f}, "
              f"process {this['process_us'] / base['process_us']:.3f}; same rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
