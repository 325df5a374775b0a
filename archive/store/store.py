"""The store's seed side: ingesting extracted seeds and reading links back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from archive.store.db import open_database, to_db, write_transaction
from core.documents import ExtractedSeed


class SeedChange(StrEnum):
    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class IngestOutcome:
    path: str
    change: SeedChange
    links: int
    added: int = 0
    removed: int = 0


class Store:
    """One SQLite file holding seeds, targets, links, checks, snapshots and runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db: Database = open_database(path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- ingest -------------------------------------------------------------------
    def ingest(self, batch: Iterable[ExtractedSeed], now: datetime) -> list[IngestOutcome]:
        """Record a batch of seeds in one transaction: all of it is stored, or none."""
        seeds = list(batch)
        return write_transaction(self.db, lambda: [self._ingest_one(s, now) for s in seeds])

    def _ingest_one(self, seed: ExtractedSeed, now: datetime) -> IngestOutcome:
        doc, stamp = seed.document, to_db(now)
        conn = self.db.conn
        row = conn.execute(
            "SELECT id, content_sha256 FROM seeds WHERE path = ?", [doc.path]
        ).fetchone()
        if row and row[1] == doc.content_sha256:
            return IngestOutcome(doc.path, SeedChange.UNCHANGED, len(seed.links))
        values = [
            doc.url,
            doc.title,
            doc.author,
            to_db(doc.published_at),
            doc.format.value,
            doc.encoding,
            doc.content_sha256,
            stamp,
        ]
        if row:
            seed_id = row[0]
            conn.execute(
                "UPDATE seeds SET url=?, title=?, author=?, published_at=?, format=?, "
                "encoding=?, content_sha256=?, updated_at=? WHERE id=?",
                [*values, seed_id],
            )
        else:
            seed_id = conn.execute(
                "INSERT INTO seeds (url, title, author, published_at, format, encoding, "
                "content_sha256, updated_at, path, first_ingested_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)",
                [*values, doc.path, stamp],
            ).lastrowid
        existing = {
            (r[1], r[2], r[3]): r[0]
            for r in conn.execute(
                "SELECT id, target_id, element, occurrence FROM links "
                "WHERE seed_id = ? AND removed_at IS NULL",
                [seed_id],
            )
        }
        occurrences: Counter[tuple[int, str]] = Counter()
        seen: set[tuple[int, str, int]] = set()
        added = 0
        for link in seed.links:
            target_id = self._target_id(
                link.key, link.url, link.host, link.checkable, link.reason, stamp
            )
            occurrence = occurrences[(target_id, link.element)]
            occurrences[(target_id, link.element)] += 1
            identity = (target_id, link.element, occurrence)
            seen.add(identity)
            added += identity not in existing
            conn.execute(
                "INSERT INTO links (seed_id, target_id, occurrence, href, role, element, "
                "anchor_text, title, context, position, first_seen_at, last_seen_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (seed_id, target_id, element, occurrence) DO UPDATE SET "
                "href=excluded.href, role=excluded.role, anchor_text=excluded.anchor_text, "
                "title=excluded.title, context=excluded.context, position=excluded.position, "
                "last_seen_at=excluded.last_seen_at, removed_at=NULL",
                [
                    seed_id,
                    target_id,
                    occurrence,
                    link.href,
                    link.role.value,
                    link.element,
                    link.anchor_text,
                    link.title,
                    link.context,
                    link.position,
                    stamp,
                    stamp,
                ],
            )
        gone = [link_id for identity, link_id in existing.items() if identity not in seen]
        # Links that left the article are marked, never deleted: their history stays.
        conn.executemany(
            "UPDATE links SET removed_at = ? WHERE id = ?", [(stamp, link_id) for link_id in gone]
        )
        change = SeedChange.CHANGED if row else SeedChange.NEW
        return IngestOutcome(doc.path, change, len(seed.links), added, len(gone))

    def _target_id(
        self, key: str, url: str, host: str, checkable: bool, reason: str | None, stamp: str | None
    ) -> int:
        conn = self.db.conn
        found = conn.execute("SELECT id FROM targets WHERE key = ?", [key]).fetchone()
        if found:
            return int(found[0])
        cursor = conn.execute(
            "INSERT INTO targets (key, url, host, checkable, not_checkable_reason, "
            "first_seen_at, next_check_at) VALUES (?,?,?,?,?,?,?)",
            [key, url, host, int(checkable), reason, stamp, stamp if checkable else None],
        )
        return int(cursor.lastrowid or 0)

    # ---- reading ------------------------------------------------------------------
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
    ) -> Iterator[dict[str, Any]]:
        """Every recorded link with its seed and target, in seed and document order."""
        where, params = ["1=1"], []
        if seeds:
            where.append("(" + " OR ".join("s.path LIKE ?" for _ in seeds) + ")")
            params += [f"%{s}%" for s in seeds]
        if roles:
            where.append(f"l.role IN ({','.join('?' for _ in roles)})")
            params += list(roles)
        if not include_removed:
            where.append("l.removed_at IS NULL")
        sql = (
            "SELECT s.path AS seed, s.url AS seed_url, t.url AS url, t.key AS key, l.href, "
            "l.role, l.element, l.anchor_text, l.title, l.context, l.position, "
            "t.checkable AS checkable, t.not_checkable_reason AS reason, t.state AS state, "
            "t.last_verdict AS last_verdict, l.removed_at "
            "FROM links l JOIN seeds s ON s.id = l.seed_id JOIN targets t ON t.id = l.target_id "
            f"WHERE {' AND '.join(where)} ORDER BY s.path, l.position"
        )
        for row in self.db.query(sql, params):
            row["checkable"] = bool(row["checkable"])
            yield row

    def counts(self) -> dict[str, int]:
        tables = ("seeds", "targets", "links", "checks", "snapshots", "runs")
        return {name: self.db[name].count for name in tables}

    def target_states(self) -> dict[str, int]:
        return {
            row["state"]: row["n"]
            for row in self.db.query(
                "SELECT state, count(*) AS n FROM targets WHERE checkable = 1 GROUP BY state"
            )
        }
