"""The `runs` table: every ingest, check, report and maintenance run, with its outcome."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archive.store.db import Tables, to_db, write_transaction


@dataclass(frozen=True)
class RunRow:
    id: int
    kind: str
    trigger: str
    started_at: str
    ended_at: str | None
    status: str
    exit_code: int | None
    pid: int | None
    counts: str | None  # JSON, as stored
    message: str | None


@dataclass(frozen=True)
class RunCheck:
    """One check a run made, with its target's state after it."""

    url: str
    verdict: str
    reason: str
    state: str


class RunSide(Tables):
    """Store methods for the `runs` table; mixed into `Store`. Each is its own transaction."""

    def start_run(self, kind: str, trigger: str, pid: int, now: datetime) -> int:
        def work() -> int:
            cursor = self.db.conn.execute(
                "INSERT INTO runs (kind, trigger, started_at, status, pid) "
                "VALUES (:kind, :trigger, :started_at, 'running', :pid)",
                {"kind": kind, "trigger": trigger, "started_at": to_db(now), "pid": pid})
            return int(cursor.lastrowid or 0)

        return write_transaction(self.db, work)

    def finish_run(self, run_id: int, *, status: str, exit_code: int, now: datetime,
                   counts: dict[str, Any] | None = None, message: str | None = None) -> None:
        write_transaction(self.db, lambda: self.db.conn.execute(
            "UPDATE runs SET ended_at=:ended_at, status=:status, exit_code=:exit_code, "
            "counts=:counts, message=:message WHERE id=:id",
            {"ended_at": to_db(now), "status": status, "exit_code": exit_code,
             "counts": json.dumps(counts) if counts else None, "message": message,
             "id": run_id}))

    def recent_runs(self, limit: int = 10) -> list[RunRow]:
        return [RunRow(*row) for row in self.db.conn.execute(
            "SELECT id, kind, trigger, started_at, ended_at, status, exit_code, pid, counts, "
            "message FROM runs ORDER BY id DESC LIMIT ?", [limit])]

    def mark_interrupted(self, kind: str, now: datetime) -> int:
        """Runs left 'running' by a killed process (the caller holds the writer lock, so no
        run of this kind can really be running) are marked interrupted."""
        def work() -> int:
            cursor = self.db.conn.execute(
                "UPDATE runs SET status='interrupted', ended_at=? WHERE status='running' AND "
                "kind=?", [to_db(now), kind])
            return cursor.rowcount

        return write_transaction(self.db, work)

    def run_checks(self, run_id: int) -> list[RunCheck]:
        """The checks of one run, in the order they were recorded."""
        return [RunCheck(*row) for row in self.db.conn.execute(
            "SELECT t.url, c.verdict, coalesce(c.reason, ''), t.state FROM checks c "
            "JOIN targets t ON t.id = c.target_id WHERE c.run_id = ? ORDER BY c.id",
            [run_id])]
