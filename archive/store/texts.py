"""The store's side of main text kept lazily: which capture a comparison needs, and its text.

A capture's main text (`snapshots.text`) is extracted only when a drift comparison needs
it (see rotwatch/lazy_text.py), so a response row's text may be NULL until then. These
queries find the rows a comparison reads (a target's baseline, the response a revisit
points at) with where their payload lies, and write a text back once it is extracted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from core.content_coding import is_text

_COLUMNS = ("s.id, s.target_id, s.payload_digest, s.record_type, s.title, s.text, "
            "s.warc_file, s.warc_offset, s.status, s.mime, s.url")


@dataclass(frozen=True)
class StoredCapture:
    """One snapshot row, as a drift comparison reads it."""

    snapshot_id: int
    target_id: int
    digest: str
    record_type: str  # "response" or "revisit" (a revisit's text is its original's)
    title: str | None
    text: str | None  # None: not extracted (yet), or a capture that has no main text
    warc_file: str
    offset: int
    status: int | None
    mime: str | None
    url: str

    @property
    def pending(self) -> bool:
        """A page whose text was never extracted: a full 2xx response of a text type."""
        return (self.text is None and self.record_type == "response"
                and self.status is not None and 200 <= self.status < 300
                and is_text(self.mime))

    @property
    def comparable(self) -> bool:
        """The capture has (or can be given) a main text to compare with.

        An empty text never was a baseline (nothing to compare against), nor was a
        revisit row (its text column is empty by design).
        """
        return bool(self.text) or self.pending


def _capture(r: Sequence[Any]) -> StoredCapture:
    return StoredCapture(int(r[0]), int(r[1]), str(r[2]), str(r[3]), r[4], r[5], str(r[6]),
                         int(r[7]), None if r[8] is None else int(r[8]), r[9], str(r[10]))


def baseline_capture(db: Database, target_id: int) -> StoredCapture | None:
    """The capture a target's drift is measured against (`targets.baseline_snapshot_id`)."""
    row = db.conn.execute(
        f"SELECT {_COLUMNS} FROM targets t JOIN snapshots s ON s.id = t.baseline_snapshot_id "
        "WHERE t.id = ?", [target_id]).fetchone()
    return _capture(row) if row else None


def baseline_captures(db: Database, target_ids: Sequence[int]) -> dict[int, StoredCapture]:
    """`baseline_capture` for many targets, one query per 500 (a fleet's gathering)."""
    found: dict[int, StoredCapture] = {}
    for start in range(0, len(target_ids), 500):
        chunk = list(target_ids[start:start + 500])
        rows = db.conn.execute(
            f"SELECT {_COLUMNS} FROM targets t JOIN snapshots s ON "
            f"s.id = t.baseline_snapshot_id WHERE t.id IN ({','.join('?' * len(chunk))})",
            chunk).fetchall()
        found |= {capture.target_id: capture for capture in map(_capture, rows)}
    return found


def response_capture(db: Database, digest: str) -> StoredCapture | None:
    """The full response record holding this payload: one with its text if any has it."""
    row = db.conn.execute(
        f"SELECT {_COLUMNS} FROM snapshots s WHERE s.payload_digest = ? AND "
        "s.record_type = 'response' ORDER BY s.text IS NULL, s.id LIMIT 1",
        [digest]).fetchone()
    return _capture(row) if row else None


def store_text(db: Database, capture: StoredCapture, text: str,
               text_hash: str | None = None) -> None:
    """Keep a text extracted after the fact with its capture (inside the caller's
    transaction), with its content hash when the caller has it. The only change a
    snapshot row ever sees: its text (and hash), from NULL, once. Checks stay as they
    were recorded (append-only): a check whose capture's text was not needed then keeps
    no `content_hash`."""
    db.conn.execute("UPDATE snapshots SET text = ?, text_hash = ? WHERE id = ? AND "
                    "text IS NULL", [text, text_hash if text else None, capture.snapshot_id])


@dataclass(frozen=True)
class SamePayload:
    """The text a check of its target's baseline payload records (a 304 confirming the
    capture, mostly): that payload's title and the content hash of its text, read
    without the text wherever the hash was stored with it (migration m009)."""

    title: str | None
    text_hash: str | None  # None: no text known, or `text` still to be hashed
    text: str | None = None  # only for a row stored without its hash


_SAME_PAYLOAD = (
    # The baseline row when it holds this payload, and the first response row of the
    # payload that has a text (the one `CheckSide.text_for_digest` reads), whose text
    # is read only when its hash is not stored.
    "SELECT s.title, s.text_hash, CASE WHEN s.text_hash IS NULL THEN s.text END, "
    "s.text IS NULL, s.record_type, s.status, s.mime, o.id, o.title, o.text_hash, "
    "CASE WHEN o.text_hash IS NULL THEN o.text END FROM targets t JOIN snapshots s ON "
    "s.id = t.baseline_snapshot_id LEFT JOIN (SELECT id, title, text, text_hash FROM "
    "snapshots WHERE payload_digest = :digest AND record_type = 'response' AND text IS "
    "NOT NULL ORDER BY id LIMIT 1) o WHERE t.id = :target AND s.payload_digest = :digest")


def same_payload(db: Database, target_id: int, digest: str) -> SamePayload | None:
    """What a check whose payload is `digest` records, when that is its target's
    comparable baseline's payload (nothing to compare: the same text); None otherwise
    (no baseline, another payload, or one without a text to compare), the caller then
    reads the baseline (`baseline_capture`)."""
    row = db.conn.execute(_SAME_PAYLOAD, {"digest": digest, "target": target_id}).fetchone()
    if row is None:
        return None
    (title, text_hash, text, text_null, record_type, status, mime, original, o_title,
     o_hash, o_text) = row
    pending = (text_null and record_type == "response" and status is not None
               and 200 <= int(status) < 300 and is_text(mime))
    if not (text_hash or text or pending):
        return None  # never a baseline: `StoredCapture.comparable`
    if original is not None:
        return SamePayload(o_title, o_hash, None if o_hash else o_text)
    return SamePayload(title, text_hash, None if text_hash else text)
