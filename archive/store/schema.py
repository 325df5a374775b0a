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


# Verdicts that count towards "dead" (core.records.Verdict.is_failure), for the review
# views' "re-opened" rule. A new failing verdict needs a new migration re-creating them.
_FAILING = ("'broken', 'server-error', 'soft-404', 'timeout', 'dns-failure', "
            "'connection-failed', 'tls-error', 'redirect-loop'")


@migrations()
def m004_i11b_triage_marks(db: Database) -> None:
    # Append-only history of what reviewers said about links (core/triage.py has the rule).
    # The checks and triggers hold for every writer, the browser UI's canned queries
    # included, and their messages are what a reviewer sees there.
    db.executescript(
        """
        CREATE TABLE triage_marks (
            id INTEGER PRIMARY KEY,
            target_id INTEGER NOT NULL REFERENCES targets(id),
            seed_id INTEGER REFERENCES seeds(id),
            mark TEXT NOT NULL CHECK (mark IN ('fixed', 'ignored', 'replaced', 'cleared')),
            replacement TEXT CHECK (replacement IS NULL OR replacement LIKE 'http://_%'
                                    OR replacement LIKE 'https://_%'),
            note TEXT CHECK (note IS NULL OR length(note) <= 2000),
            reviewer TEXT NOT NULL CHECK (length(reviewer) BETWEEN 1 AND 200),
            marked_at TEXT NOT NULL,
            via TEXT NOT NULL DEFAULT 'cli',
            CHECK ((mark = 'replaced') = (replacement IS NOT NULL))
        );
        CREATE INDEX triage_marks_target ON triage_marks(target_id, marked_at);
        CREATE TRIGGER triage_marks_known_target BEFORE INSERT ON triage_marks
        WHEN NEW.target_id IS NULL BEGIN
            SELECT RAISE(ABORT, 'no checked link has this URL: copy it from a problem list');
        END;
        CREATE TRIGGER triage_marks_known_mark BEFORE INSERT ON triage_marks
        WHEN NEW.mark IS NULL OR NEW.mark NOT IN ('fixed', 'ignored', 'replaced', 'cleared')
        BEGIN
            SELECT RAISE(ABORT, 'the mark must be fixed, ignored, replaced or cleared');
        END;
        CREATE TRIGGER triage_marks_replacement BEFORE INSERT ON triage_marks
        WHEN (NEW.mark = 'replaced') != (NEW.replacement IS NOT NULL) BEGIN
            SELECT RAISE(ABORT, 'a replacement URL goes with the mark replaced, and only with it');
        END;
        CREATE TRIGGER triage_marks_no_update BEFORE UPDATE ON triage_marks BEGIN
            SELECT RAISE(ABORT, 'triage marks are history: add a new mark instead');
        END;
        CREATE TRIGGER triage_marks_no_delete BEFORE DELETE ON triage_marks BEGIN
            SELECT RAISE(ABORT, 'triage marks are history: add the mark cleared instead');
        END;
        """
    )


@migrations()
def m005_i11b_archive_lookups(db: Database) -> None:
    # Web-archive answers cached with an expiry, one row per (URL, citation day, source):
    # the nearest copy depends on the day the article cited the page.
    db.executescript(
        """
        CREATE TABLE archive_lookups (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL,
            near TEXT NOT NULL,
            source TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            looked_up_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            found INTEGER NOT NULL,
            memento_url TEXT,
            memento_at TEXT,
            error TEXT,
            UNIQUE (url, near, source)
        );
        CREATE TABLE archive_saves (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            requested_at TEXT NOT NULL,
            ok INTEGER NOT NULL,
            memento_url TEXT,
            error TEXT
        );
        CREATE INDEX archive_saves_url ON archive_saves(url, requested_at);
        -- Reports join the (few) cached answers to their targets by URL.
        CREATE INDEX targets_url ON targets(url);
        """
    )


@migrations()
def m006_i11b_review_views(db: Database) -> None:
    # What the review UI (Datasette) shows; rotwatch's own reports do not read these.
    # link_triage is the SQL twin of core.triage.current: the latest mark of each current
    # link (its article's or the URL's), and the first failing check after it.
    db.executescript(
        f"""
        CREATE VIEW link_triage AS
        SELECT l.id AS link_id, l.seed_id, l.target_id, m.id AS mark_id, m.mark, m.reviewer,
               m.marked_at, m.note, m.replacement,
               (SELECT min(c.checked_at) FROM checks c WHERE c.target_id = l.target_id
                  AND c.checked_at > m.marked_at AND c.verdict IN ({_FAILING})) AS failed_after,
               CASE WHEN m.mark = 'cleared' THEN NULL
                    WHEN m.mark = 'fixed' AND EXISTS (SELECT 1 FROM checks c
                         WHERE c.target_id = l.target_id AND c.checked_at > m.marked_at
                         AND c.verdict IN ({_FAILING})) THEN 'reopened'
                    ELSE m.mark END AS triage
        FROM links l JOIN triage_marks m ON m.id = (
            SELECT x.id FROM triage_marks x WHERE x.target_id = l.target_id
            AND (x.seed_id IS NULL OR x.seed_id = l.seed_id)
            ORDER BY x.marked_at DESC, x.id DESC LIMIT 1)
        WHERE l.removed_at IS NULL;

        CREATE VIEW problem_links_by_article AS
        SELECT s.path AS article, s.title AS article_title, s.url AS article_url,
               t.url AS link, t.state, t.last_verdict, l.role, l.anchor_text,
               t.first_failure_at, t.consecutive_failures, t.last_ok_at, t.last_checked_at,
               lt.triage, lt.reviewer AS triaged_by, lt.marked_at AS triaged_at,
               lt.note AS triage_note, lt.replacement
        FROM links l JOIN seeds s ON s.id = l.seed_id JOIN targets t ON t.id = l.target_id
        LEFT JOIN link_triage lt ON lt.link_id = l.id
        WHERE l.removed_at IS NULL
          AND t.state IN ('dead', 'failing', 'changed', 'moved', 'recovered', 'blocked')
        ORDER BY s.path, CASE t.state WHEN 'dead' THEN 0 WHEN 'failing' THEN 1
                 WHEN 'changed' THEN 2 WHEN 'moved' THEN 3 WHEN 'recovered' THEN 4 ELSE 5 END,
                 l.position;

        CREATE VIEW recently_died AS
        SELECT t.url AS link, t.host, t.state_since AS dead_since, t.first_failure_at,
               t.consecutive_failures, t.last_verdict, t.last_ok_at,
               (SELECT count(*) FROM links l WHERE l.target_id = t.id
                  AND l.removed_at IS NULL) AS cited_by
        FROM targets t WHERE t.state = 'dead'
        ORDER BY t.state_since DESC;

        CREATE VIEW blocked_hosts AS
        SELECT t.host, sum(t.state = 'blocked') AS blocked, count(*) AS targets,
               max(t.last_checked_at) AS last_checked_at,
               group_concat(DISTINCT t.last_verdict) AS verdicts
        FROM targets t WHERE t.checkable = 1
        GROUP BY t.host HAVING sum(t.state = 'blocked') > 0
        ORDER BY blocked DESC, t.host;

        CREATE VIEW changed_since_citation AS
        SELECT s.path AS article, t.url AS link, t.state_since AS changed_since,
               b.fetched_at AS cited_capture_at, b.title AS cited_title,
               (SELECT c.similarity FROM checks c WHERE c.target_id = t.id
                ORDER BY c.checked_at DESC, c.id DESC LIMIT 1) AS similarity
        FROM links l JOIN seeds s ON s.id = l.seed_id JOIN targets t ON t.id = l.target_id
        LEFT JOIN snapshots b ON b.id = t.baseline_snapshot_id
        WHERE l.removed_at IS NULL AND t.state = 'changed'
        ORDER BY t.state_since DESC;
        """
    )


@migrations()
def m007_i14a_pending_checks(db: Database) -> None:
    # Checks held for a second local vantage (`[cluster] confirm_bind_address` /
    # `confirm_proxy`): written instead of a check, in the crawl's own transaction, and
    # moved into `checks` with their confirmation in one ingest. A run killed in between
    # leaves them here for the next run (archive/store/pending.py).
    db.executescript(
        """
        CREATE TABLE pending_checks (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs(id),
            target_id INTEGER NOT NULL REFERENCES targets(id),
            held_at TEXT NOT NULL,
            result TEXT NOT NULL
        );
        CREATE INDEX pending_checks_run ON pending_checks (run_id);
        """
    )


@migrations()
def m008_i13a3_policy_summary(db: Database) -> None:
    # Each target's check history as the recheck policy folds it (core.policy.Summary,
    # archive/store/summaries.py): a crawl extends it by each new check instead of
    # reading the target's last checks back. NULL (every target until its next check):
    # the history is read once, as before.
    db.execute("ALTER TABLE targets ADD COLUMN policy_summary TEXT")


@migrations()
def m009_i13c4_text_hash(db: Database) -> None:
    # The content hash of `snapshots.text` (rotwatch.drift.content_fingerprint), written
    # with the text: a 304 confirming a capture records that hash without reading the
    # text back and hashing it again (archive/store/texts.py, `same_payload`). NULL for
    # rows written before, or by a writer that did not know it: the text is read then.
    db.execute("ALTER TABLE snapshots ADD COLUMN text_hash TEXT")
