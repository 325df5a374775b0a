"""The store's schema, created and upgraded by sqlite-utils migrations.

Each migration is applied once, in order, inside a transaction. Never edit a migration
that has shipped: add a new one.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("rotwatch")


@migrations()
def m001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE seeds (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            url TEXT,
            title TEXT,
            author TEXT,
            published_at TEXT,
            format TEXT NOT NULL,
            encoding TEXT NOT NULL,
            content_sha256 TEXT NOT NULL,
            first_ingested_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE targets (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            url TEXT NOT NULL,
            host TEXT NOT NULL,
            checkable INTEGER NOT NULL,
            not_checkable_reason TEXT,
            first_seen_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'new',
            state_since TEXT,
            last_verdict TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            first_failure_at TEXT,
            last_failure_at TEXT,
            last_ok_at TEXT,
            last_checked_at TEXT,
            next_check_at TEXT,
            baseline_snapshot_id INTEGER
        );
        CREATE INDEX targets_due ON targets(checkable, next_check_at);
        CREATE INDEX targets_host ON targets(host);
        CREATE INDEX targets_state ON targets(state);
        CREATE TABLE links (
            id INTEGER PRIMARY KEY,
            seed_id INTEGER NOT NULL REFERENCES seeds(id),
            target_id INTEGER NOT NULL REFERENCES targets(id),
            occurrence INTEGER NOT NULL,
            href TEXT NOT NULL,
            role TEXT NOT NULL,
            element TEXT NOT NULL,
            anchor_text TEXT,
            title TEXT,
            context TEXT,
            position INTEGER NOT NULL,
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            removed_at TEXT,
            UNIQUE (seed_id, target_id, element, occurrence)
        );
        CREATE INDEX links_target ON links(target_id);
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            trigger TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            status TEXT NOT NULL,
            exit_code INTEGER,
            pid INTEGER,
            counts TEXT,
            message TEXT
        );
        CREATE TABLE checks (
            id INTEGER PRIMARY KEY,
            target_id INTEGER NOT NULL REFERENCES targets(id),
            run_id INTEGER REFERENCES runs(id),
            checked_at TEXT NOT NULL,
            url TEXT NOT NULL,
            final_url TEXT,
            status INTEGER,
            hops TEXT,
            verdict TEXT NOT NULL,
            reason TEXT,
            permanent_redirect INTEGER,
            error_kind TEXT,
            error_message TEXT,
            headers TEXT,
            elapsed REAL,
            retries INTEGER NOT NULL DEFAULT 0,
            truncated INTEGER NOT NULL DEFAULT 0,
            content_length INTEGER,
            content_hash TEXT,
            similarity REAL,
            drifted INTEGER,
            snapshot_id INTEGER
        );
        CREATE INDEX checks_target ON checks(target_id, checked_at);
        CREATE TABLE snapshots (
            id INTEGER PRIMARY KEY,
            target_id INTEGER NOT NULL REFERENCES targets(id),
            fetched_at TEXT NOT NULL,
            url TEXT NOT NULL,
            warc_file TEXT NOT NULL,
            warc_offset INTEGER NOT NULL,
            warc_length INTEGER NOT NULL,
            payload_digest TEXT NOT NULL,
            record_type TEXT NOT NULL,
            mime TEXT,
            title TEXT,
            text TEXT,
            truncated INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX snapshots_target ON snapshots(target_id, fetched_at);
        CREATE INDEX snapshots_digest ON snapshots(payload_digest);
        """
    )
    db.table("snapshots").enable_fts(["title", "text"], create_triggers=True)


@migrations()
def m002_drop_snapshot_search(db: Database) -> None:
    # Nothing read the full-text index on snapshots: it held a second copy of every page's
    # text and cost three triggers on every snapshot write. The text stays in `snapshots`.
    db.table("snapshots").disable_fts()


@migrations()
def m003_i13_validators(db: Database) -> None:
    # ETag / Last-Modified of each target's last good capture (JSON, see
    # archive/store/validators.py): a recheck sends them and an unchanged page answers 304.
    db.execute("ALTER TABLE targets ADD COLUMN validators TEXT")
