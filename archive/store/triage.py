"""The store's triage marks: recorded with history, read back per link in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from archive.store.db import Tables, from_db, to_db, write_transaction
from archive.store.seed_filter import seed_match
from core.records import Verdict
from core.triage import Mark, MarkEvent, Triage, current

_FAILING = tuple(v.value for v in Verdict if v.is_failure)


class UnknownLink(LookupError):
    """The URL (or the URL within the chosen articles) is not a recorded link."""


@dataclass(frozen=True)
class MarkRecord:
    """One row of a link's triage history, as `rotwatch triage URL` lists it."""

    id: int
    url: str
    seed_path: str | None  # None: about the URL in every article
    event: MarkEvent
    via: str


class TriageSide(Tables):
    """Store methods behind `rotwatch triage` and the reports' marks; mixed into `Store`."""

    def target_for(self, url: str, key: str) -> tuple[int, str] | None:
        """The recorded target with this URL (as cited or normalised): (id, url)."""
        row = self.db.conn.execute(
            "SELECT id, url FROM targets WHERE key = ? OR url = ? ORDER BY key = ? DESC "
            "LIMIT 1", [key, url, key]).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def add_mark(self, target_id: int, event: MarkEvent, seeds: Sequence[str] = (),
                 via: str = "cli") -> int:
        """Record `event` for a target, in every article (no `seeds`) or in the matching
        articles that cite it now (one row each). Returns the number of rows written."""

        def work() -> int:
            seed_ids: list[int | None] = [None]
            if seeds:
                seed_sql, params = seed_match(seeds)
                seed_ids = [int(r[0]) for r in self.db.conn.execute(
                    "SELECT DISTINCT s.id FROM seeds s JOIN links l ON l.seed_id = s.id WHERE "
                    f"l.target_id = ? AND l.removed_at IS NULL AND {seed_sql} ORDER BY s.id",
                    [target_id, *params])]
                if not seed_ids:
                    raise UnknownLink("no article matching --seed cites this URL")
            for seed_id in seed_ids:
                self.db.conn.execute(
                    "INSERT INTO triage_marks (target_id, seed_id, mark, replacement, note, "
                    "reviewer, marked_at, via) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [target_id, seed_id, event.mark.value, event.replacement, event.note,
                     event.reviewer, to_db(event.marked_at), via])
            return len(seed_ids)

        return write_transaction(self.db, work)

    def mark_history(self, target_id: int) -> list[MarkRecord]:
        """Every mark ever set on a target, oldest first."""
        rows = self.db.conn.execute(
            "SELECT m.id, t.url, s.path, m.mark, m.marked_at, m.reviewer, m.note, "
            "m.replacement, m.via FROM triage_marks m JOIN targets t ON t.id = m.target_id "
            "LEFT JOIN seeds s ON s.id = m.seed_id WHERE m.target_id = ? "
            "ORDER BY m.marked_at, m.id", [target_id]).fetchall()
        return [MarkRecord(int(r[0]), str(r[1]), r[2], MarkEvent(
            Mark(r[3]), _at(r[4]), str(r[5]), r[6], r[7], r[2]), str(r[8])) for r in rows]

    def link_triage(self, seeds: Sequence[str] = ()) -> dict[tuple[str, int], Triage]:
        """The triage in force for every current, marked link: (seed path, target id) ->
        `Triage`; links without a mark, or whose mark was cleared, are left out."""
        return {(path, tid): triage for path, tid, _, triage in self.link_triage_states(seeds)}

    def silenced_targets(self, seeds: Sequence[str] = ()) -> dict[int, str]:
        """Target id -> state of every target a reviewer's mark in effect silences (a marked
        link stops nagging: it no longer makes `check`, `run` or `report` exit 2)."""
        marked: dict[int, set[str]] = {}
        states: dict[int, str] = {}
        for path, tid, state, triage in self.link_triage_states(seeds):
            if triage.in_effect:
                marked.setdefault(tid, set()).add(path)
                states[tid] = state
        if not marked:
            return {}
        # Silenced only when every article citing it (of these seeds) has its mark in
        # effect: a mark scoped to one article (--seed) leaves the others nagging.
        seed_sql, params = seed_match(seeds)
        ids = list(marked)
        rows = self.db.conn.execute(
            "SELECT l.target_id, count(DISTINCT l.seed_id) FROM links l JOIN seeds s ON "
            f"s.id = l.seed_id WHERE l.removed_at IS NULL AND {seed_sql} AND l.target_id IN "
            f"({','.join('?' for _ in ids)}) GROUP BY l.target_id", [*params, *ids])
        return {int(tid): states[int(tid)] for tid, articles in rows
                if len(marked[int(tid)]) >= int(articles)}

    def link_triage_states(self, seeds: Sequence[str] = ()
                           ) -> list[tuple[str, int, str, Triage]]:
        """(seed path, target id, target state, `Triage`) of every current, marked link, in
        one query: the latest mark of the link, and the first failing check after it."""
        seed_sql, params = seed_match(seeds)
        rows = self.db.conn.execute(
            "WITH latest AS (SELECT l.seed_id, l.target_id, (SELECT x.id FROM triage_marks x "
            "WHERE x.target_id = l.target_id AND (x.seed_id IS NULL OR x.seed_id = l.seed_id) "
            "ORDER BY x.marked_at DESC, x.id DESC LIMIT 1) AS mark_id FROM links l "
            "WHERE l.removed_at IS NULL AND l.target_id IN (SELECT target_id FROM triage_marks)) "
            "SELECT s.path, m.target_id, m.mark, m.marked_at, m.reviewer, m.note, m.replacement, "
            "(SELECT min(c.checked_at) FROM checks c WHERE c.target_id = m.target_id AND "
            f"c.checked_at > m.marked_at AND c.verdict IN ({','.join('?' for _ in _FAILING)})), "
            "t.state FROM latest JOIN triage_marks m ON m.id = latest.mark_id "
            "JOIN targets t ON t.id = m.target_id "
            f"JOIN seeds s ON s.id = latest.seed_id WHERE {seed_sql}",
            [*_FAILING, *params]).fetchall()
        found: list[tuple[str, int, str, Triage]] = []
        for r in rows:
            event = MarkEvent(Mark(r[2]), _at(r[3]), str(r[4]), r[5], r[6])
            triage = current(event, from_db(r[7]))
            if triage is not None:
                found.append((str(r[0]), int(r[1]), str(r[8]), triage))
        return found


def _at(value: str) -> datetime:
    moment = from_db(value)
    assert moment is not None  # marked_at is NOT NULL
    return moment
