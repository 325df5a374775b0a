"""Gathering a shard: its results into the store, its WARC files into the archive, once.

The ingest of a (run, shard) is one write transaction that also marks the shard
ingested, so gathering it twice (a retry, a coordinator restarted, a job that finished on
two nodes) records nothing twice. WARC files are moved into the archive first (a file
already there is left alone); a crash in between leaves a file no row points to, never a
row pointing at no file.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from archive.store import results as store_results
from archive.store.checks import CheckRow, SnapshotRow, TargetUpdate
from archive.store.fleet import FleetSide, ShardState
from archive.store.store import Store
from archive.warc.writer import WARC_SUFFIX
from core.content_coding import media_type
from core.policy import PastCheck, PolicyConfig, link_state, next_check_at
from core.vantage import Seen, reconcile
from rotwatch.cluster.results import NodeResult, from_json
from rotwatch.cluster.shared_dir import AttemptDir
from rotwatch.drift import compare, content_fingerprint

LOG = logging.getLogger(__name__)


class BadResults(Exception):
    """An attempt's results file cannot be read whole (the attempt is tried again)."""


def read_results(attempt: AttemptDir, expected: int) -> list[NodeResult]:
    """Every result of a finished attempt; fewer lines than `done.json` counted is an error."""
    found: list[NodeResult] = []
    if expected == 0 and not attempt.items.exists():
        return found  # Scrapy writes no feed file for a crawl without items
    try:
        with attempt.items.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    found.append(from_json(json.loads(line)))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadResults(f"{attempt.items}: line {len(found) + 1}: {exc}") from exc
    if len(found) != expected:
        raise BadResults(f"{attempt.items}: {len(found)} results, done.json says {expected}")
    return found


def move_warcs(attempt: AttemptDir, warc_dir: Path) -> int:
    """Move the attempt's finished WARC files into the archive; returns how many moved."""
    if not attempt.warcs.is_dir():
        return 0
    warc_dir.mkdir(parents=True, exist_ok=True)
    moved = 0
    for path in sorted(attempt.warcs.glob(f"*{WARC_SUFFIX}")):
        final = warc_dir / path.name
        if final.exists():
            continue
        # Copy beside the final name, then rename: the archive never holds half a file,
        # even when the shared directory is another filesystem.
        temp = final.with_name(final.name + ".part")
        shutil.copyfile(path, temp)
        temp.replace(final)
        path.unlink()
        moved += 1
    return moved


@dataclass(frozen=True)
class Pair:
    """A result held for a second vantage, and the second vantage's result (if any)."""

    first: NodeResult
    second: NodeResult | None


def ingest(store_path: Path, run_id: int, shard: str, *, policy: PolicyConfig,
           now: datetime, results: Sequence[NodeResult] = (), pairs: Sequence[Pair] = (),
           hold: Callable[[NodeResult], bool] = lambda r: False
           ) -> tuple[int, list[NodeResult]] | None:
    """Record a shard's results (and reconciled pairs) in one transaction.

    Results for which `hold` is true are not recorded: they are returned, to be checked
    again from another vantage (and recorded with that check, as a `Pair`). Returns the
    number of checks recorded and the held results, or None when the shard was ingested
    already.
    """
    held = [r for r in results if hold(r)]
    plain = [r for r in results if not hold(r)]
    with Store(store_path) as store:
        fleet = FleetSide(store.db)

        def work() -> tuple[int, list[NodeResult]] | None:
            if fleet.shard_state(run_id, shard) is ShardState.INGESTED:
                return None
            db = store.db
            ordered: list[NodeResult] = list(plain)
            for pair in pairs:
                ordered.extend(_reconciled(pair))
            ids = {r.target_id for r in ordered}
            baselines = store_results.baselines(db, ids)
            rows: list[tuple[NodeResult, CheckRow]] = []
            for result in ordered:
                rows.append((result, _row(result, baselines.get(result.target_id))))
            for result, row in rows:  # one insert per result, to name its vantage
                before = fleet.last_check_id()
                store_results.insert_checks(db, [row], run_id)
                if result.vantage:
                    fleet.label_checks(before, result.vantage)
            histories = store_results.histories(db, ids)
            latest: dict[int, NodeResult] = {}
            for result in ordered:
                latest[result.target_id] = result
            first_snapshot = _first_snapshots(db, run_id, ids)
            updates = [_update(r, histories[r.target_id], policy,
                               first_snapshot.get(r.target_id)) for r in latest.values()]
            store_results.update_targets(db, updates)
            fleet.mark_ingested(run_id, shard, len(rows), now)
            return len(rows), held

        return store.transaction(work)


def _reconciled(pair: Pair) -> list[NodeResult]:
    """The checks a pair leaves in the history, in order (see core.vantage.reconcile)."""
    first, second = pair.first, pair.second
    if second is None:
        return [first]  # no second vantage answered: the first check stands as it is
    outcome = reconcile(Seen(first.vantage, first.judgement),
                        Seen(second.vantage, second.judgement))
    if not outcome.record_second:
        return [replace(first, judgement=outcome.first)]
    # The regional verdict is reached when the second check comes back: it is dated after
    # that check (one second: the store keeps whole seconds, and a tie would leave the
    # order to chance), so it is the latest word: blocked, not failing, not alive.
    concluded = replace(first, judgement=outcome.first,
                        checked_at=max(first.checked_at, second.checked_at)
                        + timedelta(seconds=1))
    return [second, concluded]


def _first_snapshots(db: object, run_id: int, ids: set[int]) -> dict[int, int]:
    from sqlite_utils import Database

    assert isinstance(db, Database)
    found: dict[int, int] = {}
    for target_id in ids:
        row = db.conn.execute(
            "SELECT min(snapshot_id) FROM checks WHERE run_id = ? AND target_id = ? "
            "AND snapshot_id IS NOT NULL", [run_id, target_id]).fetchone()
        if row and row[0]:
            found[target_id] = int(row[0])
    return found


def _row(result: NodeResult, baseline: tuple[int, str] | None) -> CheckRow:
    obs, record = result.observation, result.archived
    title, text = result.main_title or obs.title, result.main_text
    content_hash = similarity = drifted = None
    if text:
        content_hash = content_fingerprint(text)
        if baseline is not None:
            drift = compare(baseline[1], text)
            similarity, drifted = drift.similarity, drift.drifted
    snapshot = None
    if record is not None:
        snapshot = SnapshotRow(
            fetched_at=result.checked_at, url=obs.final_url, warc_file=record.warc_file,
            warc_offset=record.offset, warc_length=record.length,
            payload_digest=record.payload_digest, record_type=record.record_type,
            mime=media_type(obs.content_type) or None, title=title,
            truncated=record.truncated,
            # as the Recorder does: a revisit's text is its original's
            text=None if record.record_type == "revisit" else text)
    return CheckRow(result.target_id, result.checked_at, obs, result.judgement,
                    content_hash, similarity, drifted, snapshot)


def _update(result: NodeResult, history: list[PastCheck], policy: PolicyConfig,
            snapshot_id: int | None) -> TargetUpdate:
    now = result.checked_at
    assessment = link_state(history, now, policy)
    due = next_check_at(history, now, policy, key=result.key, host=result.host)
    return TargetUpdate(
        target_id=result.target_id, state=assessment.state.value,
        state_since=assessment.state_since, last_verdict=result.judgement.verdict.value,
        consecutive_failures=assessment.consecutive_failures,
        first_failure_at=assessment.first_failure_at,
        last_failure_at=assessment.last_failure_at, last_ok_at=assessment.last_ok_at,
        last_checked_at=now, next_check_at=due, baseline_snapshot_id=snapshot_id)
