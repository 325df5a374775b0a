"""Check histories (`PastCheck`), and the check-side calls over a raw connection.

The check-side rows and methods live in archive/store/checks.py (`Store.insert_checks`,
…); the functions here take a connection opened elsewhere, for the crawl's recorder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlite_utils import Database

from archive.store.checks import (
    CheckNote,
    CheckRow,
    CheckSide,
    SnapshotRow,
    TargetUpdate,
    check_notes,
)
from archive.store.db import from_db
from core.policy import PastCheck
from core.records import Verdict


def histories(db: Database, target_ids: Iterable[int], limit: int = 100
              ) -> dict[int, list[PastCheck]]:
    """The last `limit` checks of each target, oldest first."""
    ids = list(target_ids)
    found: dict[int, list[PastCheck]] = {target_id: [] for target_id in ids}
    for start in range(0, len(ids), 500):  # one query per 500 targets, not one per target
        chunk = ids[start:start + 500]
        # The newest `limit` of each target (the index on (target_id, checked_at) serves
        # the partitions), oldest first.
        rows = db.conn.execute(
            "SELECT target_id, checked_at, verdict, permanent_redirect, drifted FROM ("
            "SELECT target_id, checked_at, verdict, permanent_redirect, drifted, id, "
            "row_number() OVER (PARTITION BY target_id ORDER BY checked_at DESC, id DESC) "
            f"AS n FROM checks WHERE target_id IN ({','.join('?' * len(chunk))})) "
            "WHERE n <= ? ORDER BY target_id, checked_at, id", [*chunk, limit]).fetchall()
        for r in rows:
            found[int(r[0])].append(
                PastCheck(from_db(r[1]) or datetime.min.replace(tzinfo=UTC), Verdict(r[2]),
                          bool(r[3]), bool(r[4])))
    return found


def insert_checks(db: Database, rows: Sequence[CheckRow], run_id: int | None, *,
                  note: bool = True) -> list[int]:
    return CheckSide(db).insert_checks(rows, run_id, note=note)


def baselines(db: Database, target_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    return CheckSide(db).baselines(target_ids)


def text_for_digest(db: Database, digest: str) -> tuple[str | None, str] | None:
    return CheckSide(db).text_for_digest(digest)


def update_targets(db: Database, updates: Sequence[TargetUpdate],
                   notes: dict[int, CheckNote] | None = None) -> None:
    CheckSide(db).update_targets(updates, notes)


def find_digest(db: Database, digest: str) -> tuple[str, datetime] | None:
    return CheckSide(db).find_digest(digest)


__all__ = [
    "CheckNote",
    "CheckRow",
    "PastCheck",
    "SnapshotRow",
    "TargetUpdate",
    "baselines",
    "check_notes",
    "find_digest",
    "histories",
    "insert_checks",
    "text_for_digest",
    "update_targets",
]
