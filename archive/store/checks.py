"""The store's check side: append checks and snapshots, read baselines, update targets.

Callers wrap these in one write transaction per batch (`Store.transaction`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from archive.store.db import Tables, from_db, to_db
from archive.store.summaries import encode
from archive.store.validators import validators_to_db
from core.exchange import ArchivedRecord
from core.history import WINDOW, code_of
from core.policy import Summary
from core.records import Judgement, Observation, Validators


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
    status: int | None = None  # the archived response's HTTP status
    warc_date: str | None = None  # its WARC-Date as written (full precision)
    capture: str = "result"  # "result": the response the check judged; "attempt": earlier
    # The content hash of `text` (rotwatch.drift.content_fingerprint) when the writer knows
    # it: a 304 confirming this capture records it without reading the text back.
    text_hash: str | None = None


class ArchivedResponse(Protocol):
    """One archived response of a target as its writer placed it (the Recorder's and a
    fleet node's records both read this way)."""

    @property
    def record(self) -> ArchivedRecord: ...
    @property
    def url(self) -> str: ...
    @property
    def status(self) -> int: ...
    @property
    def warc_date(self) -> str: ...
    @property
    def mime(self) -> str | None: ...


def attempt_rows(fetched_at: datetime, captures: Iterable[ArchivedResponse],
                 judged: ArchivedRecord | None) -> tuple[SnapshotRow, ...]:
    """Rows for a check's other records (redirect hops, retried attempts): every WARC
    record has a row, and a later revisit of one finds its original."""
    return tuple(
        SnapshotRow(fetched_at=fetched_at, url=c.url, warc_file=c.record.warc_file,
                    warc_offset=c.record.offset, warc_length=c.record.length,
                    payload_digest=c.record.payload_digest, record_type=c.record.record_type,
                    mime=c.mime, title=None, text=None, truncated=c.record.truncated,
                    status=c.status, warc_date=c.warc_date, capture="attempt")
        for c in captures if c.record != judged)


def judged_row(fetched_at: datetime, observation: Observation, record: ArchivedRecord,
               captures: Iterable[ArchivedResponse], *, mime: str | None, title: str | None,
               text: str | None, text_hash: str | None = None) -> SnapshotRow:
    """The row of the record a check was judged on. Its status and WARC-Date are its own
    capture's when the crawl archived it among the check's captures. `text` is the
    caller's to decide (a revisit's text is its original's, stored once)."""
    own = next((c for c in captures if c.record == record), None)
    return SnapshotRow(
        fetched_at=fetched_at, url=observation.final_url, warc_file=record.warc_file,
        warc_offset=record.offset, warc_length=record.length,
        payload_digest=record.payload_digest, record_type=record.record_type,
        mime=mime, title=title, truncated=record.truncated, text=text,
        status=own.status if own else observation.status,
        warc_date=own.warc_date if own else None, text_hash=text_hash if text else None)


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
    # The check's other archived responses (redirect hops, retried attempts), in order:
    # each WARC record has a row, so a revisit of a retried 500 finds its original.
    attempts: tuple[SnapshotRow, ...] = ()


@dataclass(frozen=True)
class CheckNote:
    """What a target's new checks add to its row's check summary (migration m003)."""

    codes: str  # one letter per check, in the order recorded
    good_snapshot_id: int | None  # the last healthy check's snapshot, if any


def check_notes(rows: Sequence[CheckRow], snapshot_ids: Sequence[int]) -> dict[int, CheckNote]:
    """Per target, what `insert_checks` notes of these rows (and their snapshot ids)."""
    notes: dict[int, CheckNote] = {}
    for row, snapshot_id in zip(rows, snapshot_ids, strict=True):
        before = notes.get(row.target_id, CheckNote("", None))
        good = snapshot_id if snapshot_id and row.judgement.verdict.is_healthy else None
        notes[row.target_id] = CheckNote(before.codes + code_of(row.judgement.verdict),
                                         good or before.good_snapshot_id)
    return notes


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
    validators: Validators | None = None  # for the next recheck (None: an ordinary GET)
    # The history these values were judged from, as the policy folds it; None clears the
    # stored one (the next check then reads the history).
    policy_summary: Summary | None = None


# Ids per `IN (…)` query: well under SQLite's limit on bound parameters.
_IN_CHUNK = 500
_HEADERS_KEPT = ("content-type", "content-length", "server", "location", "retry-after",
                 "last-modified", "etag", "cf-mitigated", "x-robots-tag", "link")


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    # Named columns: a value can never land in its neighbour's column. Built once per
    # table: the values dicts below always have these keys, in this order.
    return (f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join(':' + c for c in columns)})")


_SNAPSHOT_COLUMNS = ("target_id", "fetched_at", "url", "warc_file", "warc_offset",
                     "warc_length", "payload_digest", "record_type", "mime", "title", "text",
                     "truncated", "status", "warc_date", "capture", "text_hash")
_CHECK_COLUMNS = ("target_id", "run_id", "checked_at", "url", "final_url", "status", "hops",
                  "verdict", "reason", "permanent_redirect", "error_kind", "error_message",
                  "headers", "elapsed", "retries", "truncated", "content_length",
                  "content_hash", "similarity", "drifted", "snapshot_id")
_INSERT_SNAPSHOT = _insert_sql("snapshots", _SNAPSHOT_COLUMNS)
_INSERT_CHECK = _insert_sql("checks", _CHECK_COLUMNS)


def _snapshot_values(target_id: int, snap: SnapshotRow) -> dict[str, object]:
    return {"target_id": target_id, "fetched_at": to_db(snap.fetched_at), "url": snap.url,
            "warc_file": snap.warc_file, "warc_offset": snap.warc_offset,
            "warc_length": snap.warc_length, "payload_digest": snap.payload_digest,
            "record_type": snap.record_type, "mime": snap.mime, "title": snap.title,
            "text": snap.text, "truncated": int(snap.truncated), "status": snap.status,
            "warc_date": snap.warc_date, "capture": snap.capture,
            "text_hash": snap.text_hash if snap.text else None}


def _check_values(row: CheckRow, run_id: int | None, snapshot_id: int) -> dict[str, object]:
    obs, judgement = row.observation, row.judgement
    headers = {k.lower(): v for k, v in obs.headers if k.lower() in _HEADERS_KEPT}
    return {"target_id": row.target_id, "run_id": run_id, "checked_at": to_db(row.checked_at),
            "url": obs.url, "final_url": obs.final_url, "status": obs.status,
            "hops": json.dumps([[h.url, h.status] for h in obs.hops]) if obs.hops else "[]",
            "verdict": judgement.verdict.value, "reason": judgement.reason,
            "permanent_redirect": _bool(judgement.permanent_redirect),
            "error_kind": obs.error.value if obs.error else None,
            "error_message": obs.error_message,
            "headers": json.dumps(headers) if headers else None,
            "elapsed": round(obs.elapsed, 4), "retries": obs.retries,
            "truncated": int(obs.truncated), "content_length": obs.length,
            "content_hash": row.content_hash, "similarity": row.similarity,
            "drifted": _bool(row.drifted), "snapshot_id": snapshot_id or None}


class CheckSide(Tables):
    """Store methods for what a crawl records; mixed into `Store`."""

    def insert_checks(self, rows: Sequence[CheckRow], run_id: int | None, *,
                      note: bool = True) -> list[int]:
        """Append checks (and their snapshots); returns the snapshot id per row (or 0).

        `note=False`: the targets' check summaries are left to the caller's
        `update_targets(…, notes=check_notes(rows, ids))`, in the same UPDATE as the rest
        of each target's row (one write of each target row, not two)."""
        snapshot_ids: list[int] = []
        execute = self.db.conn.execute
        for row in rows:
            snapshot_id = 0
            for attempt in row.attempts:
                execute(_INSERT_SNAPSHOT, _snapshot_values(row.target_id, attempt))
            if row.snapshot is not None:
                cursor = execute(_INSERT_SNAPSHOT,
                                 _snapshot_values(row.target_id, row.snapshot))
                snapshot_id = int(cursor.lastrowid or 0)
            snapshot_ids.append(snapshot_id)
        # The checks need only their snapshot's id: one statement for the batch.
        self.db.conn.executemany(_INSERT_CHECK, [
            _check_values(row, run_id, snapshot_id)
            for row, snapshot_id in zip(rows, snapshot_ids, strict=True)])
        if note:
            self._note_summaries(rows, snapshot_ids)
        return snapshot_ids

    def _note_summaries(self, rows: Sequence[CheckRow], snapshot_ids: Sequence[int]) -> None:
        # What a report reads instead of the checks (migration m003): the last checks as
        # letters and the latest healthy capture. Rows come in check order, as recorded.
        self.db.conn.executemany(
            f"UPDATE targets SET recent_checks = substr(coalesce(recent_checks, '') || :code, "
            f"-{WINDOW}), good_snapshot_id = CASE WHEN :good THEN :snapshot ELSE "
            "good_snapshot_id END WHERE id = :target_id",
            [{"code": code_of(row.judgement.verdict), "target_id": row.target_id,
              "snapshot": snapshot_id or None,
              "good": int(bool(snapshot_id) and row.judgement.verdict.is_healthy)}
             for row, snapshot_id in zip(rows, snapshot_ids, strict=True)])

    def baselines(self, target_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
        """Each target's baseline snapshot (the first with text): id and main text.

        A baseline that is a revisit (its payload was first archived for another target)
        has its original's text: a revisit's text is stored once, with the original."""
        found: dict[int, tuple[int, str]] = {}
        ids = list(target_ids)
        for start in range(0, len(ids), _IN_CHUNK):  # one query per chunk, not per target
            chunk = ids[start:start + _IN_CHUNK]
            rows = self.db.conn.execute(
                "SELECT t.id, s.id, coalesce(s.text, CASE WHEN s.record_type = 'revisit' "
                "THEN (SELECT o.text FROM snapshots o WHERE o.payload_digest = "
                "s.payload_digest AND o.record_type = 'response' AND o.text IS NOT NULL "
                "ORDER BY o.id LIMIT 1) END) FROM targets t JOIN snapshots s ON s.id = "
                f"t.baseline_snapshot_id WHERE t.id IN ({','.join('?' * len(chunk))})",
                chunk).fetchall()
            found |= {int(r[0]): (int(r[1]), str(r[2])) for r in rows if r[2]}
        return found

    def text_for_digest(self, digest: str) -> tuple[str | None, str] | None:
        """Title and main text of an archived response with this payload digest."""
        row = self.db.conn.execute(
            "SELECT title, text FROM snapshots WHERE payload_digest = ? AND record_type = "
            "'response' AND text IS NOT NULL ORDER BY id LIMIT 1", [digest]).fetchone()
        return (row[0], str(row[1])) if row else None

    def update_targets(self, updates: Sequence[TargetUpdate],
                       notes: dict[int, CheckNote] | None = None) -> None:
        """Write each target's state after its checks; with `notes` (every updated
        target's, from `check_notes`), what `insert_checks` would have noted too."""
        noted = ""
        if notes is not None:
            noted = (f"recent_checks = substr(coalesce(recent_checks, '') || :codes, "
                     f"-{WINDOW}), good_snapshot_id = coalesce(:good, good_snapshot_id), ")
        self.db.conn.executemany(
            f"UPDATE targets SET {noted}state=:state, state_since=:state_since, "
            "last_verdict=:last_verdict, consecutive_failures=:consecutive_failures, "
            "first_failure_at=:first_failure_at, last_failure_at=:last_failure_at, "
            "last_ok_at=:last_ok_at, last_checked_at=:last_checked_at, "
            "next_check_at=:next_check_at, validators=:validators, "
            "policy_summary=:policy_summary, "
            "baseline_snapshot_id=coalesce(baseline_snapshot_id, :baseline_snapshot_id) "
            "WHERE id=:target_id",
            [{"state": u.state, "state_since": to_db(u.state_since),
              "last_verdict": u.last_verdict, "consecutive_failures": u.consecutive_failures,
              "first_failure_at": to_db(u.first_failure_at),
              "last_failure_at": to_db(u.last_failure_at), "last_ok_at": to_db(u.last_ok_at),
              "last_checked_at": to_db(u.last_checked_at),
              "next_check_at": to_db(u.next_check_at),
              "baseline_snapshot_id": u.baseline_snapshot_id, "target_id": u.target_id,
              "validators": validators_to_db(u.validators),
              "policy_summary": None if u.policy_summary is None else encode(u.policy_summary)}
             | ({} if notes is None else {"codes": notes[u.target_id].codes,
                                          "good": notes[u.target_id].good_snapshot_id})
             for u in updates])

    def find_digest(self, digest: str) -> tuple[str, datetime] | None:
        """An earlier full (non-revisit) record of this payload: its URL and WARC-Date.

        The date is the record's own, to the microsecond, when the row has it (rows written
        before migration m003 only have the check time, to the second).
        """
        row = self.db.conn.execute(
            "SELECT url, coalesce(warc_date, fetched_at) FROM snapshots WHERE "
            "payload_digest = ? AND record_type = 'response' ORDER BY id LIMIT 1",
            [digest]).fetchone()
        if not row:
            return None
        moment = _parse_date(row[1])
        return (str(row[0]), moment) if moment else None


def _parse_date(value: str | None) -> datetime | None:
    """A stored time: ISO 8601 from `to_db`, or a WARC-Date ('Z' suffix)."""
    if not value:
        return None
    return from_db(value[:-1] + "+00:00" if value.endswith("Z") else value)


def _bool(value: bool | None) -> int | None:
    return None if value is None else int(value)
