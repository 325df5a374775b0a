"""The store's link queries: the links of seeds, seed hashes, counts and target states."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from archive.store.db import Tables
from archive.store.seed_filter import seed_match


@dataclass(frozen=True)
class LinkRow:
    """One recorded link with its seed and target (field order: `rotwatch links` JSON)."""

    seed: str
    seed_url: str | None
    url: str
    key: str
    href: str
    role: str
    element: str
    anchor_text: str | None
    title: str | None
    context: str | None
    position: int
    checkable: bool
    reason: str | None
    state: str | None
    last_verdict: str | None
    removed_at: str | None


_TABLES = ("seeds", "targets", "links", "checks", "snapshots", "runs")


class LinkSide(Tables):
    """Store methods that read seeds and links back; mixed into `Store`."""

    def seed_hashes(self, paths: list[str]) -> dict[str, str]:
        """The stored content hash of each of these seed paths that is known."""
        if not paths:
            return {}
        rows = self.db.conn.execute(
            f"SELECT path, content_sha256 FROM seeds WHERE path IN ({','.join('?' * len(paths))})",
            paths).fetchall()
        return {str(path): str(sha) for path, sha in rows}

    def link_count(self, path: str) -> int:
        row = self.db.conn.execute(
            "SELECT count(*) FROM links l JOIN seeds s ON s.id = l.seed_id "
            "WHERE s.path = ? AND l.removed_at IS NULL", [path]).fetchone()
        return int(row[0])

    def links(
        self,
        *,
        seeds: tuple[str, ...] = (),
        roles: tuple[str, ...] = (),
        include_removed: bool = False,
    ) -> Iterator[LinkRow]:
        """Every recorded link with its seed and target, in seed and document order."""
        seed_sql, params = seed_match(seeds)
        where = [seed_sql]
        if roles:
            where.append(f"l.role IN ({','.join('?' for _ in roles)})")
            params += list(roles)
        if not include_removed:
            where.append("l.removed_at IS NULL")
        sql = (
            "SELECT s.path, s.url, t.url, t.key, l.href, l.role, l.element, l.anchor_text, "
            "l.title, l.context, l.position, t.checkable, t.not_checkable_reason, t.state, "
            "t.last_verdict, l.removed_at "
            "FROM links l JOIN seeds s ON s.id = l.seed_id JOIN targets t ON t.id = l.target_id "
            f"WHERE {' AND '.join(where)} ORDER BY s.path, l.position"
        )
        for row in self.db.conn.execute(sql, params):
            values = list(row)
            values[11] = bool(values[11])  # checkable: stored as 0/1
            yield LinkRow(*values)

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        return {name: self.db[name].count for name in _TABLES}

    def target_states(self) -> dict[str, int]:
        """Checkable targets per state."""
        return dict(self.db.conn.execute(
            "SELECT state, count(*) FROM targets WHERE checkable = 1 GROUP BY state"))
