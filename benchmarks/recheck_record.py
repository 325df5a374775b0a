"""What the Recorder's worker spends on a recheck's 304s: preparing each (store lookups)
and recording them (rows, policy, target update), in this tree and in another.

    .venv/bin/python -m benchmarks.recheck_record [--targets 1000] [--rounds 5]
        [--text short,long,pending] [--base DIR]

A real SQLite store with `--targets` targets, each with a baseline capture (a 200 whose
text is short, 200 characters stored at once; long, a 20,000-character text stored after
a drift comparison extracted it; or pending, never extracted: a 40 KiB page) and a policy
summary. Each target answers a 304 confirming that capture: a revisit record of its
payload. The Recorder's own `_prepare` and `_record` run on its worker thread, in batches
of 100; thread CPU time (load on the machine does not count), µs per target, the
minimum over `--rounds` fresh copies of the store. With `--base DIR` (a tree exported
with `git archive`), each round runs both trees in turn, each in its own interpreter, and
checks that both recorded the same rows (content hash, drift, title, verdict, target).
"""

from __future__ import annotations

import sys
from pathlib import Path

if "--tree" in sys.argv:  # the tree measured goes first on the path (before this one)
    sys.path.insert(0, sys.argv[sys.argv.index("--tree") + 1])
else:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import dataclasses
import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

BATCH = 100
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TEXTS = {"short": "The harbour ferries run again this week. " * 5,
         "long": "The harbour ferries run again, the council said on Monday. " * 340,
         "pending": None}


def _done(value: Any) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(value)
    return future


def _template(path: Path, targets: int, kind: str) -> None:
    from archive.store import results
    from archive.store.checks import CheckRow, SnapshotRow
    from archive.store.store import Store
    from core.policy import summarise
    from core.policy_config import DEFAULT_CONFIG
    from core.records import Hop, Judgement, Observation, Verdict
    from rotwatch.drift import content_fingerprint
    from rotwatch.target_updates import past_check, target_update

    text = TEXTS[kind]
    hashed = "text_hash" in {f.name for f in dataclasses.fields(SnapshotRow)}
    store = Store(path)
    db = store.db
    db.conn.executemany(
        "INSERT INTO targets (id, key, url, host, checkable, first_seen_at) "
        "VALUES (?, ?, ?, '127.0.0.2', 1, ?)",
        [(i, f"k{i}", _url(i), T0.isoformat()) for i in range(1, targets + 1)])
    rows = []
    for i in range(1, targets + 1):
        extra = {"text_hash": content_fingerprint(text)} if hashed and text else {}
        snap = SnapshotRow(T0, _url(i), "f.warc.gz", i * 1000, 900, _digest(i), "response",
                           "text/html", f"Title {i}", text, False, 200,
                           "2026-11-01T12:00:00.123456Z", **extra)
        rows.append(CheckRow(i, T0, Observation(_url(i), (Hop(_url(i), 200),)),
                             Judgement(Verdict.OK, "200"),
                             content_fingerprint(text) if text else None, snapshot=snap))
    ids = results.insert_checks(db, rows, None)
    results.update_targets(db, [
        target_update(r.target_id, f"k{r.target_id}", "127.0.0.2", Verdict.OK, T0,
                      summarise([past_check(T0, r.judgement, None)], DEFAULT_CONFIG),
                      DEFAULT_CONFIG, snapshot_id=sid) for r, sid in zip(rows, ids, strict=True)])
    db.conn.commit()
    store.close()


def _url(i: int) -> str:
    return f"http://127.0.0.2:8080/bench/{i}?kb=40"


def _digest(i: int) -> str:
    return "sha1:" + hashlib.sha1(str(i).encode()).hexdigest().upper()[:32]


def _one(path: Path, targets: int) -> dict[str, Any]:
    from core.exchange import ArchivedRecord
    from core.policy_config import DEFAULT_CONFIG
    from core.records import Capture, Hop, Judgement, Observation, Validators, Verdict
    from crawler.fetch.items import Outcome
    from rotwatch.recorder import Recorder

    at = T0 + timedelta(days=7)
    outcomes = []
    for i in range(1, targets + 1):
        sent = Validators(_url(i), f'"e{i}"', None,
                          Capture(_url(i), "2026-11-01T12:00:00.123456Z", _digest(i)))
        obs = Observation(_url(i), (Hop(_url(i), 304),), headers=(("ETag", f'"e{i}"'),),
                          conditional=True)
        record = ArchivedRecord("g.warc.gz", i * 400, 380, _digest(i), "revisit",
                                refers_to_uri=_url(i))
        outcomes.append(Outcome(i, f"k{i}", "127.0.0.2", obs,
                                Judgement(Verdict.OK, "304 not modified"), at,
                                warc=_done(record), validators=sent))
    recorder = Recorder(path, None, run_id=None, policy=DEFAULT_CONFIG)

    def work() -> tuple[float, float]:
        began = time.thread_time()
        prepared = [recorder._prepare(o) for o in outcomes]
        middle = time.thread_time()
        for start in range(0, targets, BATCH):
            recorder._record([(o, _done(p)) for o, p in
                              zip(outcomes[start:start + BATCH], prepared[start:start + BATCH],
                                  strict=True)])
        return middle - began, time.thread_time() - middle

    prepare_s, record_s = recorder._executor.submit(work).result()
    recorder.close()
    rows = _rows(path)
    return {"prepare_us": prepare_s / targets * 1e6, "record_us": record_s / targets * 1e6,
            "rows": hashlib.sha256(json.dumps(rows).encode()).hexdigest()}


def _rows(path: Path) -> list[Any]:
    import sqlite3
    conn = sqlite3.connect(path)
    try:
        return [list(r) for r in conn.execute(
            "SELECT c.target_id, c.status, c.verdict, c.content_hash, c.similarity, "
            "c.drifted, s.record_type, s.title, s.text, t.state, t.next_check_at, "
            "t.validators, t.recent_checks FROM checks c LEFT JOIN snapshots s ON "
            "s.id = c.snapshot_id JOIN targets t ON t.id = c.target_id ORDER BY c.id")]
    finally:
        conn.close()


def _run(tree: str, path: Path, targets: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--one", str(path), "--targets",
                          str(targets), "--tree", tree], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--targets", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--text", default="short,long,pending")
    p.add_argument("--base", help="another tree (git archive) to measure against")
    p.add_argument("--one", help=argparse.SUPPRESS)
    p.add_argument("--kind", help=argparse.SUPPRESS)
    p.add_argument("--tree", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one and args.kind:
        _template(Path(args.one), args.targets, args.kind)
        return 0
    if args.one:
        print(json.dumps(_one(Path(args.one), args.targets)))
        return 0
    here = str(Path(__file__).resolve().parents[1])
    trees = {"this": here} | ({"base": args.base} if args.base else {})
    print(f"{args.targets} targets answering 304, batches of {BATCH}, min of {args.rounds} "
          "rounds, thread CPU µs per target")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.text.split(","):
            best: dict[str, dict[str, float]] = {}
            for _ in range(args.rounds):
                seen = set()
                for name, tree in trees.items():
                    template = Path(tmp) / f"{name}-{kind}.db"
                    if not template.exists():  # each tree's own schema and rows
                        subprocess.run([sys.executable, __file__, "--one", str(template),
                                        "--kind", kind, "--targets", str(args.targets),
                                        "--tree", tree], check=True)
                    path = Path(tmp) / "run.db"
                    for suffix in ("", "-wal", "-shm"):
                        Path(str(path) + suffix).unlink(missing_ok=True)
                    shutil.copy(template, path)
                    got = _run(tree, path, args.targets)
                    seen.add(got["rows"])
                    mine = best.setdefault(name, {"prepare_us": 1e9, "record_us": 1e9})
                    for key in mine:
                        mine[key] = min(mine[key], got[key])
                if len(seen) != 1:
                    raise SystemExit(f"{kind}: the trees recorded different rows")
            line = "  ".join(f"{name}: prepare {b['prepare_us']:6.1f}, record "
                             f"{b['record_us']:6.1f}" for name, b in best.items())
            if "base" in best:
                this, base = best["this"], best["base"]
                both = ((this["prepare_us"] + this["record_us"])
                        / (base["prepare_us"] + base["record_us"]))
                line += (f"  this/base: prepare {this['prepare_us'] / base['prepare_us']:.2f}, "
                         f"record {this['record_us'] / base['record_us']:.2f}, both {both:.2f}")
            print(f"{kind:8s} {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
