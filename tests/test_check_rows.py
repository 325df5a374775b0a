"""The store's check and snapshot rows: every value a row carries lands in its column."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from archive.store import checks
from archive.store.db import to_db
from core.exchange import ArchivedRecord
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
