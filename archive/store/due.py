"""Finding the targets a check run should visit, page by page, from the index.

Keyset pagination on (next_check_at, id) over the `targets_due` index: the cost of one
page depends on the page size, not on how many targets the store holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlite_utils import Database

from archive.store.db import Tables, to_db
from archive.store.seed_filter import seed_match
from archive.store.validators import validators_from_db
from core.records import DueTarget


@dataclass(frozen=True)
class Selection:
    """Which targets a run visits: the due ones, or all, or those of some seeds / URLs."""

    every: bool = False
    seeds: tuple[str, ...] = field(default_factory=tuple)
    keys: tuple[str, ...] = field(default_factory=tuple)
    # URL regexes (--include/--exclude): carried with the selection, applied by the
    # application to the rows these queries return (SQLite has no regex matcher).
    include: tuple[str, ...] = field(default_factory=tuple)
    exclude: tuple[str, ...] = field(default_factory=tuple)


def _selected(selection: Selection) -> tuple[list[str], list[object]]:
    """The WHERE terms for "checkable, and of these seeds / keys" (due time aside)."""
    where = ["t.checkable = 1"]
    params: list[object] = []
    if selection.seeds:
        seed_sql, seed_params = seed_match(selection.seeds)
        where.append("t.id IN (SELECT l.target_id FROM links l JOIN seeds s ON "
                     f"s.id = l.seed_id WHERE l.removed_at IS NULL AND {seed_sql})")
        params += seed_params
    if selection.keys:
        where.append(f"t.key IN ({','.join('?' for _ in selection.keys)})")
        params += list(selection.keys)
    return where, params


def _where(now: datetime, selection: Selection) -> tuple[list[str], list[object]]:
    """The WHERE terms (and their parameters) of the targets a selection visits: the
    selected ones, and for a plain run only those due by `now`."""
    where, params = _selected(selection)
    if not (selection.every or selection.seeds or selection.keys):
        where.append("t.next_check_at <= ?")
        params.append(to_db(now))
    return where, params


class DueSide(Tables):
    """The store method a crawl pages its targets with; mixed into `Store`."""

    def due_count(self, now: datetime, selection: Selection) -> int:
        """How many targets a run with this selection would visit (one indexed count)."""
        where, params = _where(now, selection)
        sql = f"SELECT count(*) FROM targets t WHERE {' AND '.join(where)}"
        return int(self.db.conn.execute(sql, params).fetchone()[0])

    def due_page(self, now: datetime, selection: Selection, *,
                 after: tuple[str, int] | None = None, limit: int = 500) -> list[DueTarget]:
        where, params = _where(now, selection)
        by_due_time = not (selection.every or selection.seeds or selection.keys)
        # Checks made during the run move next_check_at into the future: paging by due
        # time is stable for due runs (checked rows leave the filter), by id for explicit
        # ones.
        order = "t.next_check_at, t.id" if by_due_time else "t.id"
        if after is not None and by_due_time:
            where.append("(t.next_check_at, t.id) > (?, ?)")
            params += [after[0], after[1]]
        elif after is not None:
            where.append("t.id > ?")
            params.append(after[1])
        # Checkable targets always have next_check_at (set on insert), so the index serves
        # both the filter and the order.
        sql = ("SELECT t.id, t.key, t.url, t.host, t.next_check_at, t.validators FROM targets t "
               f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?")
        rows = self.db.conn.execute(sql, [*params, limit]).fetchall()
        return [DueTarget(int(r[0]), r[1], r[2], r[3], r[4], validators_from_db(r[5]))
                for r in rows]

    def due_per_host(self, now: datetime, selection: Selection) -> dict[str, int]:
        """How many targets a run with this selection would visit on each host (the
        --include/--exclude regexes not applied): how a run splits hosts between crawl
        processes (core.sharding)."""
        where, params = _where(now, selection)
        sql = (f"SELECT t.host, count(*) FROM targets t WHERE {' AND '.join(where)} "
               "GROUP BY t.host")
        return {str(host): int(n) for host, n in self.db.conn.execute(sql, params)}


    def selected_states(self, selection: Selection) -> Iterator[tuple[int, str, str]]:
        """(target id, URL, state) of every selected checkable target, due or not, that an
        article cites now (as `report` counts): what a command's exit code is about
        (core.exitcodes.needs_attention)."""
        where, params = _selected(selection)
        where.append("EXISTS (SELECT 1 FROM links l WHERE l.target_id = t.id AND "
                     "l.removed_at IS NULL)")
        sql = f"SELECT t.id, t.url, t.state FROM targets t WHERE {' AND '.join(where)}"
        for target_id, url, state in self.db.conn.execute(sql, params):
            yield int(target_id), str(url), str(state)

    def known_keys(self, keys: tuple[str, ...]) -> set[str]:
        """Which of these target keys the store holds (checkable or not)."""
        if not keys:
            return set()
        sql = f"SELECT key FROM targets WHERE key IN ({','.join('?' for _ in keys)})"
        return {str(row[0]) for row in self.db.conn.execute(sql, list(keys))}


def due_page(db: Database, now: datetime, selection: Selection, *,
             after: tuple[str, int] | None = None, limit: int = 500) -> list[DueTarget]:
    """`Store.due_page` over a connection opened elsewhere (rotwatch/crawl_process)."""
    return DueSide(db).due_page(now, selection, after=after, limit=limit)
