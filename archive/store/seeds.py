"""The store's seed side: ingesting extracted seeds, one transaction per batch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from archive.store.db import Tables, to_db, write_transaction
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


class SeedSide(Tables):
    """Store methods that record seeds, their links and new targets; mixed into `Store`."""

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
        values = {"url": doc.url, "title": doc.title, "author": doc.author,
                  "published_at": to_db(doc.published_at), "format": doc.format.value,
                  "encoding": doc.encoding, "content_sha256": doc.content_sha256,
                  "updated_at": stamp}
        if row:
            seed_id = row[0]
            conn.execute(
                "UPDATE seeds SET url=:url, title=:title, author=:author, "
                "published_at=:published_at, format=:format, encoding=:encoding, "
                "content_sha256=:content_sha256, updated_at=:updated_at WHERE id=:id",
                {**values, "id": seed_id})
        else:
            seed_id = conn.execute(
                "INSERT INTO seeds (url, title, author, published_at, format, encoding, "
                "content_sha256, updated_at, path, first_ingested_at) VALUES (:url, :title, "
                ":author, :published_at, :format, :encoding, :content_sha256, :updated_at, "
                ":path, :first_ingested_at)",
                {**values, "path": doc.path, "first_ingested_at": stamp}).lastrowid
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
                "anchor_text, title, context, position, first_seen_at, last_seen_at) VALUES "
                "(:seed_id, :target_id, :occurrence, :href, :role, :element, :anchor_text, "
                ":title, :context, :position, :stamp, :stamp) "
                "ON CONFLICT (seed_id, target_id, element, occurrence) DO UPDATE SET "
                "href=excluded.href, role=excluded.role, anchor_text=excluded.anchor_text, "
                "title=excluded.title, context=excluded.context, position=excluded.position, "
                "last_seen_at=excluded.last_seen_at, removed_at=NULL",
                {"seed_id": seed_id, "target_id": target_id, "occurrence": occurrence,
                 "href": link.href, "role": link.role.value, "element": link.element,
                 "anchor_text": link.anchor_text, "title": link.title,
                 "context": link.context, "position": link.position, "stamp": stamp},
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
            "first_seen_at, next_check_at) VALUES (:key, :url, :host, :checkable, :reason, "
            ":first_seen_at, :next_check_at)",
            {"key": key, "url": url, "host": host, "checkable": int(checkable),
             "reason": reason, "first_seen_at": stamp,
             "next_check_at": stamp if checkable else None},
        )
        return int(cursor.lastrowid or 0)
