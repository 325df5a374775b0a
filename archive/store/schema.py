"""The store's schema, created and upgraded by sqlite-utils migrations.

Each migration is applied once, in order, inside a transaction. Never edit a migration
that has shipped: add a new one.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from core.history import CODES, WINDOW
from core.records import Verdict

migrations = Migrations("rotwatch")
_CODES = {verdict.value: code for verdict, code in CODES.items()}
_HEALTHY = tuple(v.value for v in Verdict if v.is_healthy)
_WINDOW = WINDOW


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
def m003_i12b_daemon_state(db: Database) -> None:
    # What `rotwatch status` says about the daemon: one row per daemon process (its
    # heartbeat shows it is alive), and each job's last run. The index lets the daemon
    # count the link states of one check run without scanning every check ever made.
    db.executescript(
        """
        CREATE TABLE daemons (
            id INTEGER PRIMARY KEY,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            started_at TEXT NOT NULL,
            heartbeat_at TEXT NOT NULL,
            heartbeat_seconds REAL NOT NULL,
            stopped_at TEXT,
            stop_reason TEXT
        );
        CREATE TABLE daemon_jobs (
            job TEXT PRIMARY KEY,
            daemon_id INTEGER NOT NULL REFERENCES daemons(id),
            run_id INTEGER REFERENCES runs(id),
            fired_by TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT NOT NULL,
            exit_code INTEGER,
            counts TEXT,
            summary TEXT
        );
        CREATE INDEX checks_run ON checks(run_id);
        """
    )


@migrations()
def m003_i10_snapshot_captures(db: Database) -> None:
    # Every archived record gets a row (issue 10): a check's earlier responses (redirect
    # hops, attempts that were retried) are `capture = 'attempt'`, the response the check
    # judged is `'result'`. `status` is the record's HTTP status, and `warc_date` its
    # WARC-Date at full precision (what a revisit's WARC-Refers-To-Date must repeat).
    db.executescript(
        """
        ALTER TABLE snapshots ADD COLUMN status INTEGER;
        ALTER TABLE snapshots ADD COLUMN warc_date TEXT;
        ALTER TABLE snapshots ADD COLUMN capture TEXT NOT NULL DEFAULT 'result';
        UPDATE snapshots SET status = (SELECT c.status FROM checks c
                                       WHERE c.snapshot_id = snapshots.id LIMIT 1);
        CREATE INDEX snapshots_url ON snapshots(url, fetched_at);
        -- a capture's check (is it a good capture?), asked per target by export and show
        CREATE INDEX checks_snapshot ON checks(snapshot_id);
        """
    )


@migrations()
def m003_i11_report_summaries(db: Database) -> None:
    # A report must not cost more the longer the daemon runs: each target carries what a
    # report shows of its history (the last checks as one code per check, oldest first) and
    # its latest healthy capture, kept up to date by insert_checks. Filled here once from
    # the checks table for stores that already have a history.
    db.executescript(
        """
        ALTER TABLE targets ADD COLUMN recent_checks TEXT;
        ALTER TABLE targets ADD COLUMN good_snapshot_id INTEGER;
        CREATE INDEX links_seed ON links(seed_id, position);
        """
    )
    codes = " ".join(f"WHEN '{verdict}' THEN '{code}'" for verdict, code in _CODES.items())
    # Newest first per target, cut at the window, then re-ordered oldest first.
    db.execute(
        "UPDATE targets SET recent_checks = (SELECT group_concat(code, '') FROM (SELECT code "
        f"FROM (SELECT CASE verdict {codes} ELSE '?' END AS code, checked_at, id FROM checks "
        f"WHERE checks.target_id = targets.id ORDER BY checked_at DESC, id DESC LIMIT {_WINDOW})"
        " ORDER BY checked_at, id)), good_snapshot_id = (SELECT snapshot_id FROM checks WHERE "
        "checks.target_id = targets.id AND snapshot_id IS NOT NULL AND verdict IN "
        f"({', '.join(repr(v) for v in _HEALTHY)}) ORDER BY checked_at DESC, id DESC LIMIT 1)")


@migrations()
def m003_i14_fleet(db: Database) -> None:
    # A check spread over a Scrapyd fleet: one row per (run, shard) says which job holds
    # the shard and whether its results are in the store (the ingest is idempotent on it).
    # A check's `vantage` names the network it was made from (NULL: this machine).
    db.executescript(
        """
        CREATE TABLE fleet_shards (
            run_id INTEGER NOT NULL REFERENCES runs(id),
            shard TEXT NOT NULL,
            node TEXT,
            job_id TEXT,
            attempt INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL,
            targets INTEGER NOT NULL DEFAULT 0,
            checks INTEGER,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (run_id, shard)
        );
        ALTER TABLE checks ADD COLUMN vantage TEXT;
        """
    )


@migrations()
def m003_i13_validators(db: Database) -> None:
    # ETag / Last-Modified of each target's last good capture (JSON, see
    # archive/store/validators.py): a recheck sends them and an unchanged page answers 304.
    db.execute("ALTER TABLE targets ADD COLUMN validators TEXT")
