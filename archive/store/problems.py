"""The store's report queries: the cited links of chosen states, totals, last good capture."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from archive.store.db import Tables
from archive.store.seed_filter import seed_match
from core.records import Verdict

_HEALTHY = tuple(v.value for v in Verdict if v.is_healthy)


@dataclass(frozen=True)
class SnapshotRef:
    id: int
    fetched_at: str
    record_type: str


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
    reason: str | None  # of the last check, as are the three below
    status: int | None
    checked_url: str | None
    final_url: str | None
    snapshot: SnapshotRef | None  # the last capture taken while the page was healthy, if any
    vantage: str | None = None  # where the last check was made from (a fleet's label)


class ProblemSide(Tables):
    """Store methods behind `rotwatch report`; mixed into `Store`."""

    def problem_links(self, states: Sequence[str], seeds: Sequence[str] = ()
                      ) -> list[ProblemLink]:
        """Current links to targets in `states`, cited by seeds matching `seeds`, in seed
        path and document order. Links that left their article are not included."""
        seed_sql, seed_params = seed_match(seeds)
        # The last check per target: SQLite takes bare columns from the row holding max().
        rows = self.db.conn.execute(
            "WITH last AS (SELECT target_id, reason, status, url, final_url, vantage, "
            "max(checked_at) "
            "FROM checks GROUP BY target_id) "
            "SELECT s.path, s.url, s.title, l.role, l.anchor_text, l.context, t.id, t.url, "
            "t.state, t.last_verdict, t.first_failure_at, t.consecutive_failures, "
            "t.last_ok_at, t.last_checked_at, c.reason, c.status, c.url, c.final_url, c.vantage "
            "FROM links l JOIN seeds s ON s.id = l.seed_id JOIN targets t ON t.id = l.target_id "
            "LEFT JOIN last c ON c.target_id = t.id WHERE l.removed_at IS NULL "
            f"AND t.state IN ({','.join('?' for _ in states)}) AND {seed_sql} "
            "ORDER BY s.path, l.position", [*states, *seed_params]).fetchall()
        return [ProblemLink(
            seed_path=r[0], seed_url=r[1], seed_title=r[2], role=r[3], anchor_text=r[4],
            context=r[5], target_id=r[6], target_url=r[7], state=r[8], last_verdict=r[9],
            first_failure_at=r[10], consecutive_failures=int(r[11] or 0), last_ok_at=r[12],
            last_checked_at=r[13], reason=r[14], status=r[15], checked_url=r[16],
            final_url=r[17], snapshot=self.good_snapshot(r[6]), vantage=r[18]) for r in rows]

    def state_totals(self, seeds: Sequence[str] = ()) -> list[tuple[str, int]]:
        """Checkable targets per state, counting those cited (now) by the matching seeds."""
        seed_sql, params = seed_match(seeds)
        rows = self.db.conn.execute(
            "SELECT t.state, count(DISTINCT t.id) FROM targets t JOIN links l ON "
            "l.target_id = t.id JOIN seeds s ON s.id = l.seed_id WHERE t.checkable = 1 AND "
            f"l.removed_at IS NULL AND {seed_sql} GROUP BY t.state", params).fetchall()
        return [(str(state), int(n)) for state, n in rows]

    def good_snapshot(self, target_id: int) -> SnapshotRef | None:
        """The latest capture taken while the page worked, else the latest of any kind."""
        # What the reader wants is what the page said while it worked, not the error page
        # it serves now.
        row = self.db.conn.execute(
            "SELECT s.id, s.fetched_at, s.record_type FROM snapshots s LEFT JOIN checks c ON "
            "c.snapshot_id = s.id WHERE s.target_id = ? ORDER BY c.verdict IN "
            f"({','.join('?' for _ in _HEALTHY)}) DESC, s.fetched_at DESC, s.id DESC LIMIT 1",
            [target_id, *_HEALTHY]).fetchone()
        return SnapshotRef(int(row[0]), str(row[1]), str(row[2])) if row else None
