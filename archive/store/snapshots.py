"""The store's snapshot queries for export, fixity and `show`: where each archived record is."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archive.store.db import Tables, to_db
from archive.store.seed_filter import seed_match
from core.records import Verdict

_HEALTHY = tuple(v.value for v in Verdict if v.is_healthy)


@dataclass(frozen=True)
class ArchivedSnapshot:
    """A snapshot row: the WARC record it names (file, offset, length) and its digest."""

    id: int
    url: str
    warc_file: str
    offset: int
    length: int
    digest: str
    record_type: str
    fetched_at: str
    status: int | None = None
    warc_date: str | None = None  # the record's WARC-Date (None on rows before m003)
    capture: str = "result"  # "result": what a check judged; "attempt": a hop or a retry
    target_id: int = 0
    title: str | None = None


@dataclass(frozen=True)
class SeedPage:
    """A seed article, for an export's page list and metadata."""

    path: str
    url: str | None
    title: str | None
    format: str = "html"


@dataclass(frozen=True)
class ExportFilter:
    """Which targets an export covers, and which of their captures."""

    seeds: tuple[str, ...] = ()
    since: datetime | None = None  # captures taken at or after
    until: datetime | None = None  # captures taken at or before
    states: tuple[str, ...] = ()  # target states (dead, changed, ...); empty: any
    all_captures: bool = False  # every record, not the latest good capture per target


_COLUMNS = ("id", "url", "warc_file", "warc_offset", "warc_length", "payload_digest",
            "record_type", "fetched_at", "status", "warc_date", "capture", "target_id",
            "title")


def _select(alias: str) -> str:
    return "SELECT " + ", ".join(f"{alias}.{c}" for c in _COLUMNS)


def _row(r: Sequence[Any]) -> ArchivedSnapshot:
    return ArchivedSnapshot(int(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]), str(r[5]),
                            str(r[6]), str(r[7]), None if r[8] is None else int(r[8]),
                            None if r[9] is None else str(r[9]), str(r[10]), int(r[11]),
                            None if r[12] is None else str(r[12]))


class SnapshotSide(Tables):
    """Store methods behind `rotwatch export`, `verify` and `show`; mixed into `Store`."""

    def _snapshots(self, sql: str, params: Sequence[object]) -> list[ArchivedSnapshot]:
        return [_row(r) for r in self.db.conn.execute(sql, params).fetchall()]

    def _target_filter(self, f: ExportFilter) -> tuple[list[str], list[object]]:
        where: list[str] = ["1=1"]
        params: list[object] = []
        if f.seeds:
            seed_sql, seed_params = seed_match(f.seeds)
            # Removed links count too: their target's captures are still evidence.
            where.append("t.id IN (SELECT l.target_id FROM links l JOIN seeds s ON "
                         f"s.id = l.seed_id WHERE {seed_sql})")
            params += seed_params
        if f.states:
            where.append(f"t.state IN ({','.join('?' for _ in f.states)})")
            params += list(f.states)
        if f.since is not None:
            where.append("n.fetched_at >= ?")
            params.append(to_db(f.since) or "")
        if f.until is not None:
            where.append("n.fetched_at <= ?")
            params.append(to_db(f.until) or "")
        return where, params

    def export_snapshots(self, f: ExportFilter) -> Iterator[ArchivedSnapshot]:
        """The selected captures, streamed in target URL then time order.

        Default: each target's latest good capture (the response its check judged ok or
        redirected, never an error page). `all_captures`: every record of the targets,
        hops and retried attempts included.
        """
        where, params = self._target_filter(f)
        if f.all_captures:
            sql = (f"{_select('n')} FROM snapshots n JOIN targets t ON t.id = n.target_id "
                   f"WHERE ({') AND ('.join(where)}) ORDER BY t.url, n.fetched_at, n.id")
        else:
            healthy = ",".join("?" for _ in _HEALTHY)
            sql = (f"{_select('n')} FROM snapshots n JOIN targets t ON t.id = n.target_id "
                   f"WHERE n.id = (SELECT s.id FROM snapshots s JOIN checks c ON "
                   f"c.snapshot_id = s.id WHERE s.target_id = t.id AND s.capture = 'result' "
                   f"AND c.verdict IN ({healthy}) "
                   + ("AND s.fetched_at >= ? " if f.since else "")
                   + ("AND s.fetched_at <= ? " if f.until else "")
                   + f"ORDER BY s.fetched_at DESC, s.id DESC LIMIT 1) AND "
                   f"({') AND ('.join(where)}) ORDER BY t.url")
            inner: list[object] = list(_HEALTHY)
            if f.since:
                inner.append(to_db(f.since) or "")
            if f.until:
                inner.append(to_db(f.until) or "")
            params = inner + params
        cursor = self.db.conn.execute(sql, params)
        while batch := cursor.fetchmany(500):
            yield from (_row(r) for r in batch)

    def latest_snapshots(self, seeds: Sequence[str] = (), since: datetime | None = None
                         ) -> list[ArchivedSnapshot]:
        """The latest snapshot of each target, good or not (what a check last saw)."""
        where, params = self._target_filter(ExportFilter(tuple(seeds), since))
        return self._snapshots(
            f"{_select('n')} FROM snapshots n JOIN targets t ON t.id = n.target_id WHERE "
            "n.id = (SELECT id FROM snapshots WHERE target_id = t.id AND capture = 'result' "
            f"ORDER BY fetched_at DESC, id DESC LIMIT 1) AND ({') AND ('.join(where)}) "
            "ORDER BY t.url", params)

    def response_for(self, digest: str, uri: str | None) -> ArchivedSnapshot | None:
        """A full response record with this payload digest, preferably of this URI."""
        found = self._snapshots(
            f"{_select('s')} FROM snapshots s WHERE payload_digest = ? AND "
            "record_type = 'response' ORDER BY url = ? DESC, id LIMIT 1", [digest, uri])
        return found[0] if found else None

    def snapshot(self, snapshot_id: int) -> ArchivedSnapshot | None:
        found = self._snapshots(f"{_select('s')} FROM snapshots s WHERE s.id = ?",
                                [snapshot_id])
        return found[0] if found else None

    def captures_of(self, url: str, key: str) -> list[ArchivedSnapshot]:
        """Every capture of a URL (as fetched) or of the target with this key, oldest first."""
        return self._snapshots(
            f"{_select('s')} FROM snapshots s WHERE s.url = ? OR s.target_id = "
            "(SELECT id FROM targets WHERE key = ?) ORDER BY s.fetched_at, s.id", [url, key])

    def baseline_of(self, key: str) -> ArchivedSnapshot | None:
        """The capture a target's citation was made against (`targets.baseline_snapshot_id`)."""
        found = self._snapshots(
            f"{_select('s')} FROM targets t JOIN snapshots s ON s.id = t.baseline_snapshot_id "
            "WHERE t.key = ?", [key])
        return found[0] if found else None

    def latest_result_of(self, key: str) -> ArchivedSnapshot | None:
        """The latest capture a check of the target with this key judged."""
        found = self._snapshots(
            f"{_select('s')} FROM targets t JOIN snapshots s ON s.target_id = t.id WHERE "
            "t.key = ? AND s.capture = 'result' ORDER BY s.fetched_at DESC, s.id DESC "
            "LIMIT 1", [key])
        return found[0] if found else None

    def good_capture_of(self, key: str) -> ArchivedSnapshot | None:
        """The latest capture of this target that its check judged healthy (no error page)."""
        found = self._snapshots(
            f"{_select('s')} FROM targets t JOIN snapshots s ON s.target_id = t.id JOIN "
            "checks c ON c.snapshot_id = s.id WHERE t.key = ? AND s.capture = 'result' AND "
            f"c.verdict IN ({','.join('?' for _ in _HEALTHY)}) "
            "ORDER BY s.fetched_at DESC, s.id DESC LIMIT 1", [key, *_HEALTHY])
        return found[0] if found else None

    def target_url(self, key: str) -> str | None:
        row = self.db.conn.execute("SELECT url FROM targets WHERE key = ?", [key]).fetchone()
        return str(row[0]) if row else None

    def all_snapshots(self) -> list[ArchivedSnapshot]:
        """Every snapshot row, in file and offset order."""
        return self._snapshots(
            f"{_select('s')} FROM snapshots s ORDER BY warc_file, warc_offset", [])

    def seed_pages(self, seeds: Sequence[str] = ()) -> list[SeedPage]:
        """The seed articles (matching `seeds`), by path."""
        seed_sql, params = seed_match(seeds)
        rows = self.db.conn.execute(
            f"SELECT s.path, s.url, s.title, s.format FROM seeds s WHERE {seed_sql} "
            "ORDER BY s.path", params).fetchall()
        return [SeedPage(str(r[0]), r[1], r[2], str(r[3])) for r in rows]

    def snapshot_text(self, snapshot_id: int) -> str | None:
        """The main text stored with a capture (a revisit's: its original's)."""
        row = self.db.conn.execute(
            "SELECT coalesce(s.text, (SELECT o.text FROM snapshots o WHERE "
            "o.payload_digest = s.payload_digest AND o.text IS NOT NULL ORDER BY o.id "
            "LIMIT 1)) FROM snapshots s WHERE s.id = ?", [snapshot_id]).fetchone()
        return str(row[0]) if row and row[0] is not None else None
