"""The store's check and snapshot rows: every value a row carries lands in its column, and
the target's check summary is the same whichever UPDATE writes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from archive.store import Store, checks, results
from archive.store.db import to_db
from core.exchange import ArchivedRecord
from core.history import WINDOW
from core.records import Hop, Judgement, Observation, Verdict


def test_insert_statements_name_every_value() -> None:
    # A value whose key the statement does not name would be dropped without a word.
    record = ArchivedRecord("f.warc.gz", 0, 10, "sha1:A", "response")
    when = datetime(2026, 12, 1, tzinfo=UTC)
    obs = Observation(url="http://127.0.0.2/a", hops=(
        Hop("http://127.0.0.2/a", 301, "/b"), Hop("http://127.0.0.2/b", 200)))
    snap = checks.judged_row(when, obs, record, (), mime="text/html", title="T", text="x")
    row = checks.CheckRow(1, when, obs, Judgement(Verdict.OK, "fine"), snapshot=snap)
    assert tuple(checks._snapshot_values(1, snap)) == checks._SNAPSHOT_COLUMNS
    assert tuple(checks._check_values(row, None, 1)) == checks._CHECK_COLUMNS
    assert checks._check_values(row, None, 1)["hops"] == \
        '[["http://127.0.0.2/a", 301], ["http://127.0.0.2/b", 200]]'
    bare = checks.CheckRow(1, when, Observation(url="u"), Judgement(Verdict.OK, "fine"))
    assert checks._check_values(bare, None, 0)["hops"] == "[]"


def test_times_are_stored_the_same_from_any_zone() -> None:
    moment = datetime(2026, 12, 1, 12, 30, 15, 999_999, tzinfo=UTC)
    east = moment.astimezone(timezone(timedelta(hours=8)))
    assert to_db(moment) == to_db(east) == "2026-12-01T12:30:15+00:00"


def test_check_notes_with_the_target_update_equal_the_separate_update(tmp_path: Path) -> None:
    # The Recorder writes a target's check summary (recent checks, latest good capture)
    # in its state's UPDATE; every other writer lets insert_checks note it. Same rows.
    when = datetime(2026, 12, 1, tzinfo=UTC)
    record = ArchivedRecord("f.warc.gz", 0, 10, "sha1:A", "response")
    verdicts = {1: [Verdict.OK], 2: [Verdict.OK, Verdict.BROKEN], 3: [Verdict.BROKEN, Verdict.OK],
                4: [Verdict.SERVER_ERROR], 5: [Verdict.OK, Verdict.OK]}
    rows = []
    for target, seq in verdicts.items():
        for n, verdict in enumerate(seq):
            obs = Observation(url=f"u{target}", hops=(Hop(f"u{target}", 200),))
            snap = None if target == 5 and n == 1 else checks.judged_row(
                when, obs, record, (), mime=None, title=None, text=None)
            rows.append(checks.CheckRow(target, when + timedelta(seconds=n), obs,
                                        Judgement(verdict, "r"), snapshot=snap))
    tables = []
    for separate in (True, False):
        with Store(tmp_path / f"{separate}.db") as store:
            db = store.db
            for target in verdicts:  # earlier checks: a full window for target 1
                db.conn.execute(
                    "INSERT INTO targets (id, key, url, host, checkable, first_seen_at, "
                    "recent_checks, good_snapshot_id) VALUES (?, ?, ?, 'h', 1, ?, ?, ?)",
                    [target, f"k{target}", f"u{target}", to_db(when),
                     "b" * WINDOW if target == 1 else "o", 99 if target == 4 else None])
            ids = results.insert_checks(db, rows, None, note=separate)
            updates = [checks.TargetUpdate(t, "ok", None, "ok", 0, None, None, None, when,
                                           when + timedelta(days=1)) for t in verdicts]
            results.update_targets(db, updates,
                                   None if separate else results.check_notes(rows, ids))
            db.conn.commit()
            tables.append(db.conn.execute("SELECT * FROM targets ORDER BY id").fetchall())
    assert tables[0] == tables[1]
    kept = {r[0]: r for r in tables[0]}
    assert len({len(r) for r in kept.values()}) == 1
