"""The store's web-archive cache: look-ups with an expiry, capture requests, suggestions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from archive.store.db import Tables, to_db, write_transaction
from archive.store.seed_filter import seed_match

# The day an article cited a page: its published time, else when rotwatch first saw the link.
_CITED_DAY = "substr(coalesce(s.published_at, l.first_seen_at), 1, 10)"


@dataclass(frozen=True)
class Lookup:
    """One answer of one web archive about one URL near one citation day."""

    url: str
    near: str  # YYYY-MM-DD
    source: str  # memento | wayback
    endpoint: str
    looked_up_at: datetime
    expires_at: datetime
    memento_url: str | None  # None: no copy (or `error`)
    memento_at: datetime | None
    error: str | None = None


@dataclass(frozen=True)
class ArchivedCopy:
    """The web-archive copy suggested for a link in a report."""

    url: str
    source: str
    captured_at: str


class LookupSide(Tables):
    """Store methods behind `rotwatch suggest` and the reports' suggestions."""

    def lookup_wanted(self, states: Sequence[str], seeds: Sequence[str] = ()
                      ) -> list[tuple[str, str]]:
        """(URL, citation day) of every current link to a target in `states`, worst first."""
        seed_sql, params = seed_match(seeds)
        rows = self.db.conn.execute(
            f"SELECT DISTINCT t.url, {_CITED_DAY} FROM links l JOIN seeds s ON s.id = l.seed_id "
            "JOIN targets t ON t.id = l.target_id WHERE l.removed_at IS NULL AND t.checkable = 1 "
            f"AND t.state IN ({','.join('?' for _ in states)}) AND {seed_sql} "
            "ORDER BY t.state = 'dead' DESC, t.url", [*states, *params]).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def fresh_lookups(self, now: datetime) -> set[tuple[str, str, str]]:
        """(URL, day, source) whose cached answer has not expired."""
        rows = self.db.conn.execute(
            "SELECT url, near, source FROM archive_lookups WHERE expires_at > ?", [to_db(now)])
        return {(str(a), str(b), str(c)) for a, b, c in rows}

    def put_lookups(self, lookups: Sequence[Lookup]) -> None:
        """Record answers, replacing older ones for the same (URL, day, source)."""

        def work() -> None:
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO archive_lookups (url, near, source, endpoint, "
                "looked_up_at, expires_at, found, memento_url, memento_at, error) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(x.url, x.near, x.source, x.endpoint, to_db(x.looked_up_at),
                  to_db(x.expires_at), int(x.memento_url is not None), x.memento_url,
                  to_db(x.memento_at), x.error) for x in lookups])

        write_transaction(self.db, work)

    def archived_copies(self, seeds: Sequence[str] = ()) -> dict[tuple[str, int], ArchivedCopy]:
        """The copy found for each current link, (seed path, target id) -> copy, in one query:
        of the sources' answers for the link's citation day, the capture nearest that day.
        An expired answer still names a real copy, so it is shown until replaced."""
        seed_sql, params = seed_match(seeds)
        rows = self.db.conn.execute(
            "SELECT s.path, t.id, a.memento_url, a.source, a.memento_at, "
            f"abs(julianday(a.memento_at) - julianday({_CITED_DAY})) AS gap "
            # CROSS JOIN keeps the (few) found answers outermost: the links are reached by
            # index from them, not scanned.
            "FROM archive_lookups a CROSS JOIN targets t ON t.url = a.url "
            "CROSS JOIN links l ON l.target_id = t.id JOIN seeds s ON s.id = l.seed_id "
            f"WHERE a.found = 1 AND a.near = {_CITED_DAY} AND l.removed_at IS NULL "
            f"AND {seed_sql} ORDER BY gap DESC", params).fetchall()
        # Ordered farthest first, so the nearest copy of each link is the one kept.
        return {(str(r[0]), int(r[1])): ArchivedCopy(str(r[2]), str(r[3]), str(r[4]))
                for r in rows}

    def save_wanted(self, since: datetime, limit: int) -> list[str]:
        """Alive cited pages with no capture request since `since` (oldest checked first)."""
        rows = self.db.conn.execute(
            "SELECT t.url FROM targets t WHERE t.checkable = 1 AND t.state IN ('alive', "
            "'moved') AND EXISTS (SELECT 1 FROM links l WHERE l.target_id = t.id AND "
            "l.removed_at IS NULL) AND NOT EXISTS (SELECT 1 FROM archive_saves v WHERE "
            "v.url = t.url AND v.requested_at > ?) ORDER BY t.first_seen_at, t.id LIMIT ?",
            [to_db(since), limit]).fetchall()
        return [str(r[0]) for r in rows]

    def put_save(self, url: str, endpoint: str, at: datetime, memento_url: str | None,
                 error: str | None) -> None:
        write_transaction(self.db, lambda: self.db.conn.execute(
            "INSERT INTO archive_saves (url, endpoint, requested_at, ok, memento_url, error) "
            "VALUES (?, ?, ?, ?, ?, ?)", [url, endpoint, to_db(at), int(error is None),
                                          memento_url, error]))
