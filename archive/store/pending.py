"""The `pending_checks` table: checks held until a second local vantage confirms them.

A crawl with a local second vantage writes a check that could lead to "dead" here
instead of into `checks`, in the same transaction as the rest of its batch; the
confirmation moves it into `checks` (and deletes it here) in one ingest. What a held
check holds is the caller's JSON: the store keeps it whole and does not read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from archive.store.db import Tables, to_db


@dataclass(frozen=True)
class HeldRow:
    id: int
    run_id: int
    target_id: int
    result: str  # the held check, as the caller wrote it


class PendingSide(Tables):
    """Store methods for held checks. Writes run inside the caller's transaction."""

    def hold(self, run_id: int, held: Sequence[tuple[int, str]], now: datetime) -> None:
        """Hold these (target id, result JSON) checks of a run."""
        self.db.conn.executemany(
            "INSERT INTO pending_checks (run_id, target_id, held_at, result) "
            "VALUES (?, ?, ?, ?)", [(run_id, target_id, to_db(now), result)
                                    for target_id, result in held])

    def held(self, run_id: int | None = None) -> list[HeldRow]:
        """The held checks of one run, or of every run, in the order they were held."""
        where, params = ("WHERE run_id = ?", [run_id]) if run_id is not None else ("", [])
        rows = self.db.conn.execute(
            f"SELECT id, run_id, target_id, result FROM pending_checks {where} ORDER BY id",
            params)
        return [HeldRow(int(r[0]), int(r[1]), int(r[2]), str(r[3])) for r in rows]

    def held_runs(self) -> dict[int, int]:
        """How many checks each run holds (a run killed before its confirmation, or the
        run under way)."""
        return {int(r[0]): int(r[1]) for r in self.db.conn.execute(
            "SELECT run_id, count(*) FROM pending_checks GROUP BY run_id ORDER BY run_id")}

    def release(self, ids: Sequence[int]) -> None:
        """Forget these held checks: they are recorded now."""
        self.db.conn.executemany("DELETE FROM pending_checks WHERE id = ?",
                                 [(i,) for i in ids])
