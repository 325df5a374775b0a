"""The store's snapshot queries for export and fixity: where each archived record is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from archive.store.db import Tables, to_db
from archive.store.seed_filter import seed_match


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


_COLUMNS = ("id", "url", "warc_file", "warc_offset", "warc_length", "payload_digest",
            "record_type", "fetched_at")


def _select(alias: str) -> str:
    return "SELECT " + ", ".join(f"{alias}.{c}" for c in _COLUMNS)


class SnapshotSide(Tables):
    """Store methods behind `rotwatch export` and `verify`; mixed into `Store`."""

    def _snapshots(self, sql: str, params: Sequence[object]) -> list[ArchivedSnapshot]:
        return [ArchivedSnapshot(int(r[0]), r[1], r[2], int(r[3]), int(r[4]), r[5], r[6], r[7])
                for r in self.db.conn.execute(sql, params).fetchall()]

    def latest_snapshots(self, seeds: Sequence[str] = (), since: datetime | None = None
                         ) -> list[ArchivedSnapshot]:
        """The latest snapshot of each target, by target URL; `seeds`: only targets ever
        cited by a matching seed; `since`: only snapshots taken at or after it."""
        where: list[str] = ["1=1"]
        params: list[object] = []
        if seeds:
            seed_sql, seed_params = seed_match(seeds)
            # Removed links count too: their target's captures are still evidence.
            where.append("t.id IN (SELECT l.target_id FROM links l JOIN seeds s ON "
                         f"s.id = l.seed_id WHERE {seed_sql})")
            params += seed_params
        if since is not None:
            where.append("n.fetched_at >= ?")
            params.append(to_db(since) or "")
        return self._snapshots(
            f"{_select('n')} FROM snapshots n JOIN targets t ON t.id = n.target_id WHERE "
            "n.id = (SELECT id FROM snapshots WHERE target_id = t.id "
            "ORDER BY fetched_at DESC, id DESC LIMIT 1) AND "
            f"{' AND '.join(where)} ORDER BY t.url", params)

    def response_for(self, digest: str, uri: str | None) -> ArchivedSnapshot | None:
        """A full response record with this payload digest, preferably of this URI."""
        found = self._snapshots(
            f"{_select('s')} FROM snapshots s WHERE payload_digest = ? AND "
            "record_type = 'response' ORDER BY url = ? DESC, id LIMIT 1", [digest, uri])
        return found[0] if found else None

    def all_snapshots(self) -> list[ArchivedSnapshot]:
        """Every snapshot row, in file and offset order."""
        return self._snapshots(
            f"{_select('s')} FROM snapshots s ORDER BY warc_file, warc_offset", [])
