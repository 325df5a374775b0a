"""What recording a check's target costs as its history grows: the recheck policy judged
from the last checks read back (before) or from the target's stored summary (now).

    .venv/bin/python -m benchmarks.policy_history [--targets 1000] [--lengths 2,10,30,100]
        [--rounds 5]

A real SQLite store (archive.store.Store) with `--targets` targets holding N past checks
each; per batch of 100 targets (a Recorder batch), side "history" reads the last checks
(`results.histories`) and judges each target from them (`target_update`), side "summary"
reads the stored summaries and extends them by the new check (`judged_histories`, what
the Recorder now does) and judges from that. Both sides run inside one transaction
each, rolled back, interleaved, `--rounds` times: the minimum µs per target of each, and
their ratio. Both must give the same target rows (checked every time).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archive.store import results  # noqa: E402
from archive.store.checks import CheckRow  # noqa: E402
from archive.store.db import to_db  # noqa: E402
from archive.store.store import Store  # noqa: E402
from core.policy import summarise  # noqa: E402
from core.policy_config import DEFAULT_CONFIG  # noqa: E402
from core.records import Hop, Judgement, Observation, Verdict  # noqa: E402
from rotwatch.target_updates import judged_histories, target_update  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 100
_CYCLE = [Verdict.OK, Verdict.OK, Verdict.BROKEN, Verdict.OK, Verdict.BLOCKED, Verdict.OK]


def _store(path: Path, targets: int, length: int) -> Store:
    store = Store(path)
    db = store.db
    db.conn.executemany(
        "INSERT INTO targets (id, key, url, host, checkable, first_seen_at, state, "
        "consecutive_failures) VALUES (?, ?, ?, 'h', 1, ?, 'new', 0)",
        [(i, f"k{i}", f"http://h/{i}", to_db(T0)) for i in range(1, targets + 1)])
    db.conn.executemany(
        "INSERT INTO checks (target_id, checked_at, url, verdict, retries, truncated) "
        "VALUES (?, ?, ?, ?, 0, 0)",
        [(i, to_db(T0 + timedelta(days=d)), f"http://h/{i}", _CYCLE[d % len(_CYCLE)].value)
         for i in range(1, targets + 1) for d in range(length)])
    # Each target's summary as a check recorded through `target_update` leaves it.
    history = results.histories(db, range(1, targets + 1), limit=length)
    results.update_targets(db, [
        target_update(i, f"k{i}", "h", Verdict.OK, T0, summarise(history[i]), DEFAULT_CONFIG)
        for i in range(1, targets + 1)])
    db.conn.commit()
    return store


def _rows(ids: range, at: datetime) -> list[CheckRow]:
    return [CheckRow(i, at, Observation(f"http://h/{i}", (Hop(f"http://h/{i}", 200),)),
                     Judgement(Verdict.OK, "200")) for i in ids]


def _side(store: Store, targets: int, at: datetime, summary: bool) -> tuple[float, list]:
    db = store.db
    updates, spent = [], 0.0
    for start in range(1, targets + 1, BATCH):
        ids = range(start, min(start + BATCH, targets + 1))
        rows = _rows(ids, at)
        db.conn.execute("BEGIN")
        try:
            results.insert_checks(db, rows, None)
            began = time.perf_counter()
            judged = (judged_histories(db, rows, DEFAULT_CONFIG) if summary
                      else results.histories(db, ids))
            batch = [target_update(i, f"k{i}", "h", Verdict.OK, at, judged[i], DEFAULT_CONFIG)
                     for i in ids]
            results.update_targets(db, batch)
            spent += time.perf_counter() - began
        finally:
            db.conn.execute("ROLLBACK")
        updates += [(u.state, u.state_since, u.consecutive_failures, u.last_failure_at,
                     u.last_ok_at, u.next_check_at) for u in batch]
    return spent, updates


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--targets", type=int, default=1000)
    p.add_argument("--lengths", default="2,10,30,100")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    print(f"{args.targets} targets, batches of {BATCH}, min of {args.rounds} interleaved "
          "rounds (µs per target)")
    with tempfile.TemporaryDirectory() as tmp:
        for length in (int(n) for n in args.lengths.split(",")):
            store = _store(Path(tmp) / f"s{length}.db", args.targets, length)
            at = T0 + timedelta(days=length)
            best = {False: float("inf"), True: float("inf")}
            for _ in range(args.rounds):
                got = {}
                for summary in (False, True):
                    spent, got[summary] = _side(store, args.targets, at, summary)
                    best[summary] = min(best[summary], spent)
                if got[False] != got[True]:
                    raise SystemExit(f"history {length}: the two sides judged differently")
            store.close()
            before, after = (best[s] / args.targets * 1e6 for s in (False, True))
            print(f"  history of {length:3d} checks: read back {before:7.1f}, "
                  f"summary {after:6.1f}, summary/read back {after / before:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
