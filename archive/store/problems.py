"""The store's report queries: every reported link in one ordered query, and the summaries.

A report is one query plan, whatever its size and however long the history: the links
of the chosen states come out of one statement, already in report order (worst seeds
first, then severity, then document order), streamed from the cursor. A link's history
and its capture to read come from columns each target carries (`recent_checks`,
`good_snapshot_id`, `baseline_snapshot_id`, migration m003), its last check by one index
lookup: nothing here reads a target's checks one by one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from archive.store.db import Tables
from archive.store.seed_filter import seed_match
from core.records import Verdict


@dataclass(frozen=True)
class SnapshotRef:
    """A capture rotwatch took: where its WARC record is."""

    id: int
    fetched_at: str
    record_type: str
    warc_file: str | None = None
    warc_offset: int | None = None
    warc_length: int | None = None


@dataclass(frozen=True)
class ProblemLink:
    """One current link whose target is in a chosen state, with its target's last check."""

    seed_path: str
    seed_url: str | None
    seed_title: str | None
    role: str
    anchor_text: str | None
    context: str | None
    target_id: int
    target_url: str
    state: str
    last_verdict: str | None
    first_failure_at: str | None
    consecutive_failures: int
    last_ok_at: str | None
    last_checked_at: str | None
    reason: str | None  # of the last check, as are the fields down to similarity
    status: int | None
    checked_url: str | None
    final_url: str | None
    snapshot: SnapshotRef | None  # the latest capture taken while the page was healthy
    host: str = ""
    state_since: str | None = None
    recent_checks: str = ""  # core.history letters, oldest first
    error_kind: str | None = None
    error_message: str | None = None
    similarity: float | None = None  # of the last check's text to the baseline
    baseline: SnapshotRef | None = None  # the capture the citation was checked against


@dataclass(frozen=True)
class RunPoint:
    """One check run: when it started and how many targets failed or could not be told."""

    run_id: int
    started_at: str
    checked: int
    failed: int
    neutral: int


_SEVERITY = ("dead", "failing", "changed", "moved", "recovered", "blocked")
_ORDER_STATE = "CASE t.state " + " ".join(
    f"WHEN '{state}' THEN {rank}" for rank, state in enumerate(_SEVERITY)) + " ELSE 99 END"
_SNAP = "{0}.id, {0}.fetched_at, {0}.record_type, {0}.warc_file, {0}.warc_offset, {0}.warc_length"
_QUERY = (
    # Per seed, its dead and failing links: the seeds' order. Then each seed's links by
    # the links_seed index, sorted once in SQLite.
    "WITH w AS (SELECT l.seed_id, sum(t.state = 'dead') AS dead, sum(t.state = 'failing') "
    "AS failing FROM links l JOIN targets t ON t.id = l.target_id JOIN seeds s ON s.id = "
    "l.seed_id WHERE l.removed_at IS NULL AND t.state IN ({states}) AND {seeds} "
    "GROUP BY l.seed_id) "
    "SELECT s.path, s.url, s.title, l.role, l.anchor_text, l.context, t.id, t.url, "
    "t.state, t.last_verdict, t.first_failure_at, t.consecutive_failures, t.last_ok_at, "
    "t.last_checked_at, c.reason, c.status, c.url, c.final_url, t.host, t.state_since, "
    "t.recent_checks, c.error_kind, c.error_message, c.similarity, "
    f"{_SNAP.format('g')}, {_SNAP.format('b')} "
    "FROM w JOIN seeds s ON s.id = w.seed_id JOIN links l ON l.seed_id = w.seed_id "
    "JOIN targets t ON t.id = l.target_id "
    # The last check: one lookup in checks_target (target_id, checked_at) per link.
    "LEFT JOIN checks c ON c.id = (SELECT id FROM checks WHERE target_id = t.id "
    "ORDER BY checked_at DESC, id DESC LIMIT 1) "
    "LEFT JOIN snapshots g ON g.id = t.good_snapshot_id "
    "LEFT JOIN snapshots b ON b.id = t.baseline_snapshot_id "
    "WHERE l.removed_at IS NULL AND t.state IN ({states}) "
    f"ORDER BY w.dead DESC, w.failing DESC, s.path, {_ORDER_STATE}, l.position")


def _snap(r: Sequence[Any], at: int) -> SnapshotRef | None:
    if r[at] is None:
        return None
    return SnapshotRef(int(r[at]), str(r[at + 1]), str(r[at + 2]), r[at + 3], r[at + 4],
                       r[at + 5])


class ProblemSide(Tables):
    """Store methods behind `rotwatch report`; mixed into `Store`."""

    def problem_links(self, states: Sequence[str], seeds: Sequence[str] = ()
                      ) -> Iterator[ProblemLink]:
        """Current links to targets in `states`, cited by seeds matching `seeds`, streamed in
        report order: seeds with the most dead, then failing links first (then by path),
        inside a seed by severity, then document order. Links that left their article are
        not included."""
        if not states:
            return
        seed_sql, seed_params = seed_match(seeds)
        sql = _QUERY.format(states=",".join("?" for _ in states), seeds=seed_sql)
        for r in self.db.conn.execute(sql, [*states, *seed_params, *states]):
            yield ProblemLink(
                seed_path=r[0], seed_url=r[1], seed_title=r[2], role=r[3], anchor_text=r[4],
                context=r[5], target_id=r[6], target_url=r[7], state=r[8], last_verdict=r[9],
                first_failure_at=r[10], consecutive_failures=int(r[11] or 0),
                last_ok_at=r[12], last_checked_at=r[13], reason=r[14], status=r[15],
                checked_url=r[16], final_url=r[17], host=r[18], state_since=r[19],
                recent_checks=r[20] or "", error_kind=r[21], error_message=r[22],
                similarity=r[23], snapshot=_snap(r, 24), baseline=_snap(r, 30))

    def link_counts(self, states: Sequence[str], seeds: Sequence[str] = ()
                    ) -> dict[str, int]:
        """How many current links `problem_links` yields, per state."""
        seed_sql, params = seed_match(seeds)
        rows = self.db.conn.execute(
            "SELECT t.state, count(*) FROM links l JOIN targets t ON t.id = l.target_id "
            f"JOIN seeds s ON s.id = l.seed_id WHERE l.removed_at IS NULL AND t.state IN "
            f"({','.join('?' for _ in states)}) AND {seed_sql} GROUP BY t.state",
            [*states, *params]).fetchall()
        return {str(state): int(n) for state, n in rows}

    def state_totals(self, seeds: Sequence[str] = ()) -> list[tuple[str, int]]:
        """Checkable targets per state, counting those cited (now) by the matching seeds."""
        seed_sql, params = seed_match(seeds)
        rows = self.db.conn.execute(
            "SELECT t.state, count(DISTINCT t.id) FROM targets t JOIN links l ON "
            "l.target_id = t.id JOIN seeds s ON s.id = l.seed_id WHERE t.checkable = 1 AND "
            f"l.removed_at IS NULL AND {seed_sql} GROUP BY t.state", params).fetchall()
        return [(str(state), int(n)) for state, n in rows]

    def host_states(self, seeds: Sequence[str] = ()) -> list[tuple[str, str, int]]:
        """(host, state, targets) for the checkable targets cited by the matching seeds."""
        seed_sql, params = seed_match(seeds)
        rows = self.db.conn.execute(
            "SELECT t.host, t.state, count(DISTINCT t.id) FROM targets t JOIN links l ON "
            "l.target_id = t.id JOIN seeds s ON s.id = l.seed_id WHERE t.checkable = 1 AND "
            f"l.removed_at IS NULL AND {seed_sql} GROUP BY t.host, t.state", params).fetchall()
        return [(str(host), str(state), int(n)) for host, state, n in rows]

    def check_run_points(self, limit: int = 60) -> list[RunPoint]:
        """The last `limit` finished check runs, oldest first, from their recorded counts
        (verdict -> targets), so the cost is one row per run, not one per check."""
        rows = self.db.conn.execute(
            "SELECT id, started_at, counts FROM runs WHERE kind = 'check' AND counts IS NOT "
            "NULL ORDER BY id DESC LIMIT ?", [limit]).fetchall()
        points = []
        for run_id, started_at, counts in reversed(rows):
            try:
                tally = json.loads(counts)
            except ValueError:
                continue  # a damaged counts cell costs the chart one bar, not the report
            if not isinstance(tally, dict):
                continue
            failed = neutral = checked = 0
            for verdict in Verdict:
                n = tally.get(verdict.value)
                n = n if isinstance(n, int) else 0
                checked += n
                failed += n if verdict.is_failure else 0
                neutral += n if not verdict.is_failure and not verdict.is_healthy else 0
            points.append(RunPoint(int(run_id), str(started_at), checked, failed, neutral))
        return points
