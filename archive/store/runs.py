"""The `runs` table: every ingest, check, report and maintenance run, with its outcome."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from archive.store.db import to_db, write_transaction


def start_run(db: Database, kind: str, trigger: str, pid: int, now: datetime) -> int:
    def work() -> int:
        cursor = db.conn.execute(
            "INSERT INTO runs (kind, trigger, started_at, status, pid) VALUES (?,?,?,?,?)",
            [kind, trigger, to_db(now), "running", pid])
        return int(cursor.lastrowid or 0)

    return write_transaction(db, work)


def finish_run(db: Database, run_id: int, *, status: str, exit_code: int, now: datetime,
               counts: dict[str, Any] | None = None, message: str | None = None) -> None:
    write_transaction(db, lambda: db.conn.execute(
        "UPDATE runs SET ended_at=?, status=?, exit_code=?, counts=?, message=? WHERE id=?",
        [to_db(now), status, exit_code, json.dumps(counts) if counts else None, message,
         run_id]))


def recent_runs(db: Database, limit: int = 10) -> list[dict[str, Any]]:
    return list(db.query(
        "SELECT id, kind, trigger, started_at, ended_at, status, exit_code, pid, counts, "
        "message FROM runs ORDER BY id DESC LIMIT ?", [limit]))


def mark_interrupted(db: Database, kind: str, now: datetime) -> int:
    """Runs left 'running' by a killed process (the caller holds the writer lock, so no
    run of this kind can really be running) are marked interrupted."""
    def work() -> int:
        cursor = db.conn.execute(
            "UPDATE runs SET status='interrupted', ended_at=? WHERE status='running' AND "
            "kind=?", [to_db(now), kind])
        return cursor.rowcount

    return write_transaction(db, work)
