"""Check histories (`PastCheck`), and the check-side calls over a raw connection.

The check-side rows and methods live in archive/store/checks.py (`Store.insert_checks`,
…); the functions here take a connection opened elsewhere, for the crawl's recorder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlite_utils import Database

from archive.store.checks import CheckRow, CheckSide, SnapshotRow, TargetUpdate
from archive.store.db import from_db
from core.policy import PastCheck
from core.records import Verdict


def histories(db: Database, target_ids: Iterable[int], limit: int = 100
              ) -> dict[int, list[PastCheck]]:
    """The last `limit` checks of each target, oldest first."""
    found: dict[int, list[PastCheck]] = {}
    for target_id in target_ids:
        rows = db.conn.execute(
            "SELECT checked_at, verdict, permanent_redirect, drifted FROM checks "
            "WHERE target_id = ? ORDER BY checked_at DESC, id DESC LIMIT ?",
            [target_id, limit]).fetchall()
        found[target_id] = [
            PastCheck(from_db(r[0]) or datetime.min.replace(tzinfo=UTC), Verdict(r[1]),
                      bool(r[2]), bool(r[3]))
            for r in reversed(rows)]
    return found


def insert_checks(db: Database, rows: Sequence[CheckRow], run_id: int | None) -> list[int]:
    return CheckSide(db).insert_checks(rows, run_id)


def baselines(db: Database, target_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    return CheckSide(db).baselines(target_ids)


def text_for_digest(db: Database, digest: str) -> tuple[str | None, str] | None:
    return CheckSide(db).text_for_digest(digest)


def update_targets(db: Database, updates: Sequence[TargetUpdate]) -> None:
    CheckSide(db).update_targets(updates)


def find_digest(db: Database, digest: str) -> tuple[str, datetime] | None:
    return CheckSide(db).find_digest(digest)


__all__ = ["CheckRow", "PastCheck", "SnapshotRow", "TargetUpdate", "baselines", "find_digest",
           "histories", "insert_checks", "text_for_digest", "update_targets"]
