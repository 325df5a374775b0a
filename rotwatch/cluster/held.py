"""Checks held for a second local vantage: what the crawl writes instead of a check.

With `[cluster] confirm_bind_address` or `confirm_proxy` (and no fleet), a check whose
verdict could lead to "dead" (core.vantage.NEEDS_CONFIRMATION) is not recorded by the
crawl: the recorder writes it, whole (snapshot rows and drift as it prepared them), to
the store's `pending_checks` table in the same transaction as the rest of its batch.
The confirmation (rotwatch/cluster/local_confirm.py) reads it back as a `NodeResult`
and records it with the second vantage's check through the fleet's ingest
(rotwatch/cluster/gather.py). In the store, not in a file: it is written and released
atomically with the checks, so a run killed at any point leaves each check either
recorded or held, never both and never neither.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from archive.store.checks import CheckRow, SnapshotRow
from archive.store.pending import HeldRow, PendingSide
from core.vantage import needs_confirmation
from crawler.fetch.items import Outcome
from rotwatch.cluster.results import NodeResult, from_json, to_json
from rotwatch.config import Config

FIRST_VANTAGE = "this machine"


def holds_for_confirmation(config: Config) -> bool:
    """Whether a local crawl holds its possible failures for a second local vantage."""
    cluster = config.cluster
    return (not cluster.enabled and cluster.confirm
            and bool(cluster.confirm_bind_address or cluster.confirm_proxy))


def is_held(outcome: Outcome) -> bool:
    return needs_confirmation(outcome.judgement.verdict)


def hold(pending: PendingSide, run_id: int, held: list[tuple[Outcome, CheckRow]],
         now: datetime) -> None:
    """Write these prepared checks as held; inside the caller's transaction."""
    pending.hold(run_id, [(row.target_id, _to_text(outcome, row)) for outcome, row in held],
                 now)


def _snapshot(snap: SnapshotRow) -> dict[str, Any]:
    return {**asdict(snap), "fetched_at": snap.fetched_at.isoformat()}


def _from_snapshot(data: dict[str, Any]) -> SnapshotRow:
    return SnapshotRow(**{**data, "fetched_at": datetime.fromisoformat(data["fetched_at"])})


def _to_text(outcome: Outcome, row: CheckRow) -> str:
    result = NodeResult(row.target_id, outcome.key, outcome.host, row.checked_at,
                        row.observation, row.judgement, FIRST_VANTAGE)
    return json.dumps({**to_json(result), "row": {
        "content_hash": row.content_hash, "similarity": row.similarity,
        "drifted": row.drifted,
        "snapshot": _snapshot(row.snapshot) if row.snapshot else None,
        "attempts": [_snapshot(a) for a in row.attempts]}})


def held_result(held: HeldRow) -> NodeResult:
    """A held check back, as the ingest records it (`NodeResult.row` carries the rest)."""
    data = json.loads(held.result)
    result = from_json(data)
    extra = data["row"]
    row = CheckRow(result.target_id, result.checked_at, result.observation, result.judgement,
                   extra["content_hash"], extra["similarity"], extra["drifted"],
                   _from_snapshot(extra["snapshot"]) if extra["snapshot"] else None,
                   tuple(_from_snapshot(a) for a in extra["attempts"]))
    return replace(result, row=row)
