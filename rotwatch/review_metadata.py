"""What the review UI says about the store: Datasette metadata, canned and triage queries.

Plain data (a dict in Datasette 0.65's metadata shape) built from the store's schema
names; rotwatch/cli_ui.py serves it. The views it points at are created by the store's
migration m006_i11b_review_views. See docs/review.md.
"""

from __future__ import annotations

from typing import Any

from core.triage import MAX_NOTE

TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "seeds": ("The articles rotwatch reads links from (one row per seed file).", {
        "path": "Where the seed file is", "url": "The article's own URL",
        "published_at": "When the article was published (UTC), if the seed says",
    }),
    "targets": ("Every distinct URL cited, with what rotwatch currently believes about it.", {
        "url": "The URL as fetched", "key": "The normalised URL (one row per key)",
        "state": "new, alive, moved, changed, failing, dead, blocked or recovered "
                 "(docs/policy.md)",
        "state_since": "When the current state began (UTC)",
        "last_verdict": "What the latest check concluded (docs/verdicts.md)",
        "consecutive_failures": "Failing checks in a row (blocked ones skipped)",
        "first_failure_at": "First failure of the current streak",
        "next_check_at": "When the link is due again",
        "baseline_snapshot_id": "The capture that `changed` is measured against",
    }),
    "links": ("Each place an article cites a URL, with its context and role.", {
        "role": "What the link is in the article (primary-source, citation, image, ...)",
        "anchor_text": "The linked words", "context": "The sentence around the link",
        "removed_at": "When the link left the article (kept, not deleted)",
    }),
    "checks": ("Every check ever made (append-only): one row per target per check.", {
        "verdict": "What this check concluded", "reason": "Why, in the checker's words",
        "status": "The final HTTP status, if any", "similarity": "Main-text similarity to "
        "the baseline (1 = same)", "drifted": "The content drifted from the baseline",
    }),
    "snapshots": ("WARC captures of what each target served.", {
        "warc_file": "The WARC file under the data directory's warcs/",
        "record_type": "response, or revisit (same payload as an earlier capture)",
    }),
    "runs": ("Every ingest, check, report and maintenance run, with its outcome.", {}),
    "triage_marks": ("What reviewers said about links, with history: a new row per mark; "
                     "rows are never changed or deleted.", {
        "mark": "fixed, ignored, replaced, or cleared (takes the mark back)",
        "seed_id": "The article the mark is about; empty: every article citing the URL",
        "replacement": "With `replaced`: the URL the article links to now",
        "reviewer": "Who set the mark", "marked_at": "When (UTC)",
        "via": "cli (rotwatch triage) or ui (this browser UI)",
    }),
    "archive_lookups": ("Web-archive copies found (or not) near each citation date, cached "
                        "until `expires_at` (rotwatch suggest).", {
        "near": "The citation day the copy should be nearest to",
        "source": "memento (TimeMap/TimeGate) or wayback (availability API)",
        "memento_url": "The archived copy", "memento_at": "When it was captured (UTC)",
    }),
    "archive_saves": ("Save-Page-Now style capture requests for still-alive cited pages.", {}),
    "link_triage": ("The mark in force for each current link: `triage` is the mark, or "
                    "`reopened` when a link marked fixed failed a later check.", {
        "failed_after": "The first failing check after the mark",
    }),
    "problem_links_by_article": ("Links in trouble, by article, worst first, with any mark.",
                                 {"triage": "The reviewer's mark (see link_triage)"}),
    "recently_died": ("Links called dead, the most recent first.", {
        "cited_by": "How many current links in articles point at it",
    }),
    "blocked_hosts": ("Sites that turn the checker away (403/429, robots.txt, challenges): "
                      "their links cannot be vouched for.", {}),
    "changed_since_citation": ("Pages that still answer but no longer say what was cited.", {
        "similarity": "Main-text similarity of the latest check to the cited capture",
    }),
}

def _queries(reviewer: str) -> dict[str, dict[str, Any]]:
    # The configured reviewer is the default of the form's reviewer field: a SQL literal.
    who = "'" + reviewer.replace("'", "''") + "'"
    now = "strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')"
    return {
        "problem_links": {
            "title": "Problem links by article",
            "description": "Links in trouble in the articles whose path contains the text "
                           "(empty: all), marked ones included. Copy a link to mark it.",
            "sql": "SELECT * FROM problem_links_by_article WHERE article LIKE '%' || :article "
                   "|| '%'",
        },
        "recently_died": {
            "title": "Recently died",
            "description": "Links called dead within the last N days.",
            "sql": "SELECT * FROM recently_died WHERE dead_since >= strftime("
                   "'%Y-%m-%dT%H:%M:%S', 'now', '-' || CAST(:days AS INTEGER) || ' days')",
        },
        "blocked_hosts": {
            "title": "Blocked hosts",
            "description": "Sites that turn the checker away, most blocked links first.",
            "sql": "SELECT * FROM blocked_hosts",
        },
        "changed_since_citation": {
            "title": "Changed since citation",
            "description": "Pages that answer but no longer say what the article cited.",
            "sql": "SELECT * FROM changed_since_citation",
        },
        "unmarked_dead_links": {
            "title": "Dead links nobody has marked",
            "description": "What still needs a reviewer (re-opened marks included).",
            "sql": "SELECT * FROM problem_links_by_article WHERE state = 'dead' AND "
                   "(triage IS NULL OR triage = 'reopened')",
        },
        "mark_history": {
            "title": "Marks of a link",
            "description": "Every mark ever set on the URL, oldest first (the history is "
                           "never rewritten).",
            "sql": "SELECT m.marked_at, m.mark, m.replacement, m.reviewer, m.note, m.via, "
                   "s.path AS only_in_article FROM triage_marks m JOIN targets t ON t.id = "
                   "m.target_id LEFT JOIN seeds s ON s.id = m.seed_id WHERE t.url = trim(:url) "
                   "ORDER BY m.marked_at, m.id",
        },
        "mark_link": {
            "title": "Mark a link",
            "description": "mark: fixed, ignored, replaced (give the replacement URL) or "
                           "cleared. The mark is about the URL in every article citing it; "
                           f"a fixed link that fails its next check comes back. The note is "
                           f"at most {MAX_NOTE} characters. Reviewer: empty means "
                           f"{reviewer}.",
            "write": True,
            "hide_sql": True,
            "params": ["url", "mark", "replacement", "note", "reviewer"],
            "sql": "INSERT INTO triage_marks (target_id, mark, replacement, note, reviewer, "
                   "marked_at, via) VALUES ((SELECT id FROM targets WHERE url = trim(:url)), "
                   "lower(trim(:mark)), nullif(trim(:replacement), ''), nullif(trim(:note), "
                   f"''), coalesce(nullif(trim(:reviewer), ''), {who}), {now}, 'ui')",
            "on_success_message": "Marked. The next report shows it.",
        },
    }


def metadata(database: str, reviewer: str) -> dict[str, Any]:
    """Datasette metadata for the store served under the name `database`."""
    tables: dict[str, Any] = {
        name: {"description": text, "columns": columns}
        for name, (text, columns) in TABLES.items()}
    tables["_sqlite_migrations"] = {"hidden": True}
    return {
        "title": "rotwatch review",
        "description": "The link store: problem links, their history, and triage marks. "
                       "Start with the canned queries below the tables.",
        "about": "rotwatch docs/review.md",
        "databases": {database: {
            "description": "Problem links by article, recently died, blocked hosts and "
                           "changed since citation are views and canned queries; `Mark a "
                           "link` writes a triage mark.",
            "tables": tables,
            "queries": _queries(reviewer),
        }},
    }
