"""The daemon's own tables: one row per daemon process with its heartbeat, each job's last run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archive.store.db import Tables, to_db, write_transaction
from archive.store.runs import RunRow

_RUN_COLUMNS = "id, kind, trigger, started_at, ended_at, status, exit_code, pid, counts, message"


@dataclass(frozen=True)
class DaemonRow:
    id: int
    pid: int
    host: str
    started_at: str
    heartbeat_at: str
    heartbeat_seconds: float
    stopped_at: str | None
    stop_reason: str | None


@dataclass(frozen=True)
class DaemonJobRow:
    job: str
    daemon_id: int
    run_id: int | None
    fired_by: str  # "schedule" or "run-now"
    started_at: str
    finished_at: str | None
    outcome: str
    exit_code: int | None
    counts: str | None  # JSON, as stored
    summary: str | None  # the log line that ended it


class DaemonSide(Tables):
    """Store methods for `daemons` and `daemon_jobs`; mixed into `Store`."""

    def register_daemon(self, pid: int, host: str, now: datetime,
                        heartbeat_seconds: float) -> int:
        def work() -> int:
            cursor = self.db.conn.execute(
                "INSERT INTO daemons (pid, host, started_at, heartbeat_at, heartbeat_seconds) "
                "VALUES (?, ?, ?, ?, ?)",
                [pid, host, to_db(now), to_db(now), heartbeat_seconds])
            return int(cursor.lastrowid or 0)

        return write_transaction(self.db, work)

    def heartbeat(self, daemon_id: int, now: datetime) -> None:
        write_transaction(self.db, lambda: self.db.conn.execute(
            "UPDATE daemons SET heartbeat_at=? WHERE id=?", [to_db(now), daemon_id]))

    def daemon_stopped(self, daemon_id: int, now: datetime, reason: str) -> None:
        write_transaction(self.db, lambda: self.db.conn.execute(
            "UPDATE daemons SET stopped_at=?, heartbeat_at=?, stop_reason=? WHERE id=?",
            [to_db(now), to_db(now), reason, daemon_id]))

    def job_started(self, job: str, daemon_id: int, fired_by: str, now: datetime,
                    run_id: int | None) -> None:
        write_transaction(self.db, lambda: self.db.conn.execute(
            "INSERT OR REPLACE INTO daemon_jobs (job, daemon_id, run_id, fired_by, started_at, "
            "outcome) VALUES (?, ?, ?, ?, ?, 'running')",
            [job, daemon_id, run_id, fired_by, to_db(now)]))

    def job_finished(self, job: str, now: datetime, *, outcome: str, exit_code: int | None,
                     counts: dict[str, Any] | None, summary: str) -> None:
        write_transaction(self.db, lambda: self.db.conn.execute(
            "UPDATE daemon_jobs SET finished_at=?, outcome=?, exit_code=?, counts=?, "
            "summary=? WHERE job=?",
            [to_db(now), outcome, exit_code, json.dumps(counts) if counts else None, summary,
             job]))

    def latest_daemon(self) -> DaemonRow | None:
        row = self.db.conn.execute(
            "SELECT id, pid, host, started_at, heartbeat_at, heartbeat_seconds, stopped_at, "
            "stop_reason FROM daemons ORDER BY id DESC LIMIT 1").fetchone()
        return DaemonRow(*row) if row else None

    def daemon_jobs(self) -> list[DaemonJobRow]:
        return [DaemonJobRow(*row) for row in self.db.conn.execute(
            "SELECT job, daemon_id, run_id, fired_by, started_at, finished_at, outcome, "
            "exit_code, counts, summary FROM daemon_jobs ORDER BY job")]

    def run_of_process(self, kind: str, pid: int, since: datetime) -> RunRow | None:
        """The run a child process recorded (its pid, started at or after `since`)."""
        row = self.db.conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE kind=? AND pid=? AND started_at>=? "
            "ORDER BY id DESC LIMIT 1", [kind, pid, to_db(since)]).fetchone()
        return RunRow(*row) if row else None

    def run_link_states(self, run_id: int) -> dict[str, int]:
        """The current state of each target one run checked, counted by state."""
        return dict(self.db.conn.execute(
            "SELECT state, count(*) FROM targets WHERE id IN "
            "(SELECT target_id FROM checks WHERE run_id=?) GROUP BY state", [run_id]))

    def last_check_run(self) -> RunRow | None:
        """The latest check that is running or ended in a recorded result (exit 0 or 2
        alike: finding broken links is a check working); failed and interrupted ones
        are not the check working."""
        row = self.db.conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE kind='check' AND status IN "
            "('ok', 'running') ORDER BY id DESC LIMIT 1").fetchone()
        return RunRow(*row) if row else None
