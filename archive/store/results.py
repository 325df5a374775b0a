"""The store's check side: append checks and snapshots, read histories, update targets.

Callers wrap these in one write transaction per batch (archive.store.db.write_transaction).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from archive.store.db import from_db, to_db
from core.records import Judgement, Observation


@dataclass(frozen=True)
class SnapshotRow:
    fetched_at: datetime
    url: str
    warc_file: str
    warc_offset: int
    warc_length: int
    payload_digest: str
    record_type: str
    mime: str | None
    title: str | None
    text: str | None
    truncated: bool


@dataclass(frozen=True)
class CheckRow:
    target_id: int
    checked_at: datetime
    observation: Observation
    judgement: Judgement
    content_hash: str | None = None
    similarity: float | None = None
    drifted: bool | None = None
    snapshot: SnapshotRow | None = None


@dataclass(frozen=True)
class PastCheck:
    checked_at: datetime
    verdict: str
    permanent_redirect: bool
    drifted: bool


@dataclass(frozen=True)
class TargetUpdate:
    target_id: int
    state: str
    state_since: datetime | None
    last_verdict: str
    consecutive_failures: int
    first_failure_at: datetime | None
    last_failure_at: datetime | None
    last_ok_at: datetime | None
    last_checked_at: datetime
    next_check_at: datetime
    baseline_snapshot_id: int | None = None


_HEADERS_KEPT = ("content-type", "content-length", "server", "location", "retry-after",
                 "last-modified", "etag", "cf-mitigated", "x-robots-tag", "link")


def insert_checks(db: Database, rows: Sequence[CheckRow], run_id: int | None) -> list[int]:
    """Append checks (and their snapshots); returns the snapshot id per row (or 0)."""
    conn = db.conn
    snapshot_ids: list[int] = []
    for row in rows:
        obs, snap = row.observation, row.snapshot
        snapshot_id = 0
        if snap is not None:
            snapshot_id = int(conn.execute(
                "INSERT INTO snapshots (target_id, fetched_at, url, warc_file, warc_offset, "
                "warc_length, payload_digest, record_type, mime, title, text, truncated) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [row.target_id, to_db(snap.fetched_at), snap.url, snap.warc_file,
                 snap.warc_offset, snap.warc_length, snap.payload_digest, snap.record_type,
                 snap.mime, snap.title, snap.text, int(snap.truncated)]).lastrowid or 0)
        headers = {k.lower(): v for k, v in obs.headers if k.lower() in _HEADERS_KEPT}
        conn.execute(
            "INSERT INTO checks (target_id, run_id, checked_at, url, final_url, status, hops, "
            "verdict, reason, permanent_redirect, error_kind, error_message, headers, "
            "elapsed, retries, truncated, content_length, content_hash, similarity, "
            "drifted, snapshot_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [row.target_id, run_id, to_db(row.checked_at), obs.url, obs.final_url,
             obs.status, json.dumps([[h.url, h.status] for h in obs.hops]),
             row.judgement.verdict.value, row.judgement.reason,
             _bool(row.judgement.permanent_redirect),
             obs.error.value if obs.error else None, obs.error_message,
             json.dumps(headers) if headers else None, round(obs.elapsed, 4), obs.retries,
             int(obs.truncated), obs.length, row.content_hash, row.similarity,
             _bool(row.drifted), snapshot_id or None])
        snapshot_ids.append(snapshot_id)
    return snapshot_ids


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
            PastCheck(from_db(r[0]) or datetime.min, r[1], bool(r[2]), bool(r[3]))
            for r in reversed(rows)]
    return found


def baselines(db: Database, target_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """Each target's baseline snapshot (the first with text): id and main text."""
    found: dict[int, tuple[int, str]] = {}
    for target_id in target_ids:
        row = db.conn.execute(
            "SELECT s.id, s.text FROM targets t JOIN snapshots s ON s.id = "
            "t.baseline_snapshot_id WHERE t.id = ?", [target_id]).fetchone()
        if row and row[1]:
            found[target_id] = (int(row[0]), str(row[1]))
    return found


def text_for_digest(db: Database, digest: str) -> tuple[str | None, str] | None:
    """Title and main text of an archived response with this payload digest."""
    row = db.conn.execute(
        "SELECT title, text FROM snapshots WHERE payload_digest = ? AND record_type = "
        "'response' AND text IS NOT NULL ORDER BY id LIMIT 1", [digest]).fetchone()
    return (row[0], str(row[1])) if row else None


def update_targets(db: Database, updates: Sequence[TargetUpdate]) -> None:
    db.conn.executemany(
        "UPDATE targets SET state=?, state_since=?, last_verdict=?, consecutive_failures=?, "
        "first_failure_at=?, last_failure_at=?, last_ok_at=?, last_checked_at=?, "
        "next_check_at=?, baseline_snapshot_id=coalesce(baseline_snapshot_id, ?) WHERE id=?",
        [(u.state, to_db(u.state_since), u.last_verdict, u.consecutive_failures,
          to_db(u.first_failure_at), to_db(u.last_failure_at), to_db(u.last_ok_at),
          to_db(u.last_checked_at), to_db(u.next_check_at), u.baseline_snapshot_id,
          u.target_id) for u in updates])


def find_digest(db: Database, digest: str) -> tuple[str, datetime] | None:
    """An earlier full (non-revisit) record of this payload: its URL and date."""
    row = db.conn.execute(
        "SELECT url, fetched_at FROM snapshots WHERE payload_digest = ? AND "
        "record_type = 'response' ORDER BY id LIMIT 1", [digest]).fetchone()
    if not row:
        return None
    moment = from_db(row[1])
    return (str(row[0]), moment) if moment else None


def _bool(value: bool | None) -> int | None:
    return None if value is None else int(value)
