"""The `fleet_shards` table: which Scrapyd job holds each shard of a run, and its state.

A shard's results are written to the store once: `ingested` is set in the same write
transaction as its checks, so gathering a shard twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from archive.store.db import Tables, to_db


class ShardState(StrEnum):
    """Where a shard of a fleet run is. Closed."""

    SCHEDULED = "scheduled"  # a job holds it (pending or running on a node)
    INGESTED = "ingested"  # its results are in the store
    FAILED = "failed"  # every attempt failed; its targets stay due
    CANCELLED = "cancelled"  # the coordinator stopped before it finished


@dataclass(frozen=True)
class ShardRow:
    run_id: int
    shard: str
    node: str | None
    job_id: str | None
    attempt: int
    status: ShardState
    targets: int
    checks: int | None
    updated_at: str


class FleetSide(Tables):
    """Store methods for the fleet's shards. Writes run inside the caller's transaction."""

    def put_shard(self, run_id: int, shard: str, *, node: str | None, job_id: str | None,
                  attempt: int, status: ShardState, targets: int, now: datetime) -> None:
        self.db.conn.execute(
            "INSERT INTO fleet_shards (run_id, shard, node, job_id, attempt, status, targets, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, shard) DO "
            "UPDATE SET node=excluded.node, job_id=excluded.job_id, attempt=excluded.attempt, "
            "status=excluded.status, targets=excluded.targets, updated_at=excluded.updated_at "
            "WHERE fleet_shards.status != 'ingested'",
            [run_id, shard, node, job_id, attempt, status.value, targets, to_db(now)])

    def shard_state(self, run_id: int, shard: str) -> ShardState | None:
        row = self.db.conn.execute(
            "SELECT status FROM fleet_shards WHERE run_id = ? AND shard = ?",
            [run_id, shard]).fetchone()
        return ShardState(row[0]) if row else None

    def mark_ingested(self, run_id: int, shard: str, checks: int, now: datetime) -> None:
        self.db.conn.execute(
            "UPDATE fleet_shards SET status = 'ingested', checks = ?, updated_at = ? "
            "WHERE run_id = ? AND shard = ?", [checks, to_db(now), run_id, shard])

    def shards(self, run_id: int | None = None) -> list[ShardRow]:
        """The shards of one run, or of the latest fleet run."""
        if run_id is None:
            row = self.db.conn.execute("SELECT max(run_id) FROM fleet_shards").fetchone()
            if not row or row[0] is None:
                return []
            run_id = int(row[0])
        rows = self.db.conn.execute(
            "SELECT run_id, shard, node, job_id, attempt, status, targets, checks, "
            "updated_at FROM fleet_shards WHERE run_id = ? ORDER BY shard", [run_id])
        return [ShardRow(r[0], r[1], r[2], r[3], r[4], ShardState(r[5]), r[6], r[7], r[8])
                for r in rows]

    def last_check_id(self) -> int:
        row = self.db.conn.execute("SELECT coalesce(max(id), 0) FROM checks").fetchone()
        return int(row[0])

    def label_checks(self, after_id: int, vantage: str) -> None:
        """Name the vantage of the checks appended after `after_id` (this transaction's)."""
        self.db.conn.execute("UPDATE checks SET vantage = ? WHERE id > ?", [vantage, after_id])
