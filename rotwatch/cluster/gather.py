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
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from archive.store import results as store_results
from archive.store import texts
from archive.store.checks import CheckRow, attempt_rows, judged_row
from archive.store.fleet import FleetSide, ShardState
from archive.store.pending import PendingSide
from archive.store.store import Store
from archive.warc.writer import WARC_SUFFIX
from core.content_coding import media_type
from core.operator_rules import AcceptRule, accepted, refused_by_settings
from core.policy import PolicyConfig
from core.vantage import Seen, reconcile
from rotwatch.cluster.results import NodeResult, from_json
from rotwatch.cluster.shared_dir import AttemptDir
from rotwatch.drift import against_baseline
from rotwatch.lazy_text import SHORT_PAGE_CHARS, extract_stored
from rotwatch.target_updates import target_update, validators_after

LOG = logging.getLogger(__name__)
BATCH = 500  # results per batch of work inside a shard's transaction


def batched(items: Iterable[NodeResult], size: int) -> Iterator[list[NodeResult]]:
    batch: list[NodeResult] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class BadResults(Exception):
    """An attempt's results file cannot be read whole (the attempt is tried again)."""


class ResultsFile:
    """A finished attempt's results, read as they are iterated: never all in memory.

    Each iteration reads the file again (a write transaction that met a lock is run
    again), and raises `BadResults` at a line that does not parse or when the file holds
    fewer or more results than `done.json` counted.
    """

    def __init__(self, attempt: AttemptDir, expected: int) -> None:
        self.attempt = attempt
        self.expected = expected

    def __iter__(self) -> Iterator[NodeResult]:
        items = self.attempt.items
        if self.expected == 0 and not items.exists():
            return  # Scrapy writes no feed file for a crawl without items
        count = 0
        try:
            with items.open(encoding="utf-8") as lines:
                for line in lines:
                    if line.strip():
                        count += 1
                        yield from_json(json.loads(line))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BadResults(f"{items}: result {count}: {exc}") from exc
        if count != self.expected:
            raise BadResults(f"{items}: {count} results, done.json says {self.expected}")


def read_results(attempt: AttemptDir, expected: int) -> list[NodeResult]:
    """Every result of a finished attempt, in memory (for the few a confirmation holds)."""
    return list(ResultsFile(attempt, expected))


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


@dataclass(frozen=True)
class Ingested:
    recorded: int  # checks appended
    held: list[NodeResult]  # results waiting for a second vantage
    verdicts: Counter[str]  # of the results recorded as this shard's checks
    refused: int = 0  # targets refused by the operator's settings: not checks, not recorded
    refusal: str | None = None  # one of the reasons, to show


def ingest(store_path: Path, run_id: int, shard: str, *, policy: PolicyConfig,
           now: datetime, results: Iterable[NodeResult] = (), pairs: Sequence[Pair] = (),
           hold: Callable[[NodeResult], bool] = lambda r: False,
           accept: tuple[AcceptRule, ...] = (),
           release: Sequence[int] = (),
           warc_dir: Path | None = None) -> Ingested | None:
    """Record a shard's results (and reconciled pairs) in one transaction.

    As a local crawl's pipeline does: a target refused by the operator's settings is not
    recorded (only counted), and the `accept` rules apply to every verdict. Results for
    which `hold` is then true are not recorded: they are returned, to be checked again
    from another vantage (and recorded with that check, as a `Pair`). `results` is read
    in batches (it may be a `ResultsFile`) and must be iterable again. `release` names
    held checks of the store (archive/store/pending.py) these pairs record: they are let
    go in the same transaction. Returns None when the shard was ingested already.
    `warc_dir`: where a baseline whose text a local crawl left unextracted
    (rotwatch/lazy_text.py) is read back from.
    """
    def judged(result: NodeResult) -> NodeResult:
        if not accept:
            return result
        return replace(result, judgement=accepted(accept, result.host, result.observation,
                                                  result.judgement))

    with Store(store_path) as store:
        fleet = FleetSide(store.db)

        def work() -> Ingested | None:
            if fleet.shard_state(run_id, shard) is ShardState.INGESTED:
                return None
            outcome = Ingested(0, [], Counter())
            for batch in batched(results, BATCH):
                plain: list[NodeResult] = []
                for result in batch:
                    if refused_by_settings(result.observation):
                        outcome = replace(outcome, refused=outcome.refused + 1,
                                          refusal=outcome.refusal or result.observation
                                          .error_message or result.judgement.reason)
                        continue
                    result = judged(result)
                    (outcome.held if hold(result) else plain).append(result)
                outcome.verdicts.update(r.judgement.verdict.value for r in plain)
                recorded = _record(store, run_id, plain, policy, warc_dir)
                outcome = replace(outcome, recorded=outcome.recorded + recorded)
            for pair in pairs:
                outcome.verdicts[pair.first.judgement.verdict.value] += 1
            recorded = _record(store, run_id, [
                r for pair in pairs for r in _reconciled(
                    replace(pair, second=pair.second and judged(pair.second)))], policy,
                warc_dir)
            outcome = replace(outcome, recorded=outcome.recorded + recorded)
            PendingSide(store.db).release(release)
            fleet.mark_ingested(run_id, shard, outcome.recorded, now)
            return outcome

        return store.transaction(work)


def _record(store: Store, run_id: int, ordered: list[NodeResult],
            policy: PolicyConfig, warc_dir: Path | None = None) -> int:
    """Append these checks (in order) and update their targets; inside a transaction."""
    if not ordered:
        return 0
    db, fleet = store.db, FleetSide(store.db)
    ids = {r.target_id for r in ordered}
    baselines = store_results.baselines(db, ids)
    if warc_dir is not None:
        baselines |= _late_baselines(store, warc_dir, [
            r.target_id for r in ordered if r.main_text and r.target_id not in baselines])
    based = texts.baseline_captures(db, sorted(ids))
    first_snapshot: dict[int, int] = {}
    latest: dict[int, NodeResult] = {}
    for result in ordered:  # one insert per result, to name its vantage
        before = fleet.last_check_id()
        earlier: tuple[str | None, str | None] | None = None
        if result.archived is not None and result.archived.record_type == "revisit":
            # As the Recorder does: a revisit's text is its original's (the node did not
            # extract it again); asked per result, so an original gathered just before
            # (its own job's) is found.
            earlier = store_results.text_for_digest(db, result.archived.payload_digest)
        # As the Recorder decides (rotwatch/recorder.py, _prepare): without a baseline to
        # compare with, the text waits; the baseline's own payload is the same page.
        base = based.get(result.target_id)
        comparable = base is not None and base.comparable
        same = (comparable and base is not None and result.archived is not None
                and result.archived.payload_digest == base.digest)
        if same and earlier is None and base is not None:
            base_text = baselines.get(result.target_id)
            earlier = (base.title, base_text[1] if base_text else None)
        if earlier is None and not comparable:
            result = _text_deferred(result)
        (snapshot_id,) = store_results.insert_checks(
            db, [_row(result, baselines.get(result.target_id), earlier, same)], run_id)
        if result.vantage:
            fleet.label_checks(before, result.vantage)
        if snapshot_id:
            first_snapshot.setdefault(result.target_id, snapshot_id)
        latest[result.target_id] = result
    histories = store_results.histories(db, ids)
    store_results.update_targets(db, [
        target_update(r.target_id, r.key, r.host, r.judgement.verdict, r.checked_at,
                      histories[r.target_id], policy,
                      snapshot_id=first_snapshot.get(r.target_id),
                      validators=validators_after(r.observation, r.judgement, r.validators,
                                                  r.archived))
        for r in latest.values()])
    return len(ordered)


def _late_baselines(store: Store, warc_dir: Path, target_ids: list[int]
                    ) -> dict[int, tuple[int, str]]:
    """Baselines whose text was never extracted (a local crawl extracts only when it
    compares): extracted now from their WARC records, and kept."""
    found: dict[int, tuple[int, str]] = {}
    for target_id in dict.fromkeys(target_ids):
        base = texts.baseline_capture(store.db, target_id)
        if base is None or not base.pending:
            continue
        main = extract_stored(warc_dir, base)
        if main is None:
            continue
        texts.store_text(store.db, base, main.text)
        if main.text:
            found[target_id] = (base.snapshot_id, main.text)
    return found


def _reconciled(pair: Pair) -> list[NodeResult]:
    """The checks a pair leaves in the history, in order (see core.vantage.reconcile)."""
    first, second = pair.first, pair.second
    if second is None:
        return [first]  # no second vantage answered: the first check stands as it is
    outcome = reconcile(Seen(first.vantage, first.judgement),
                        Seen(second.vantage, second.judgement))
    if not outcome.record_second:
        # One check stands, the first vantage's; the second's archived responses join its
        # other records, so no WARC record the confirming job wrote is without a row.
        return [replace(first, judgement=outcome.first,
                        captures=first.captures + second.captures)]
    # The regional verdict is reached when the second check comes back: it is dated after
    # that check (one second: the store keeps whole seconds, and a tie would leave the
    # order to chance), so it is the latest word: blocked, not failing, not alive.
    concluded = replace(first, judgement=outcome.first,
                        checked_at=max(first.checked_at, second.checked_at)
                        + timedelta(seconds=1))
    return [second, concluded]


def _text_deferred(result: NodeResult) -> NodeResult:
    """As a local check stores a first capture (rotwatch/lazy_text.py): no main text until
    a later capture differs from it (then it is read back from its WARC record), the
    page's headline as its title; a short page keeps its visible text. The node extracted
    the text already; storing it would make a fleet's rows differ from a local check's."""
    obs = result.observation
    if result.main_text is None or len(obs.text) < SHORT_PAGE_CHARS:
        return result
    return replace(result, main_text=None, main_title=obs.heading or obs.title)


def _row(result: NodeResult, baseline: tuple[int, str] | None,
         earlier: tuple[str | None, str | None] | None = None, same: bool = False) -> CheckRow:
    """The check's row and its snapshot rows, as the Recorder builds them."""
    if result.row is not None:  # held by the local recorder, made whole there
        return replace(result.row, checked_at=result.checked_at, judgement=result.judgement)
    obs, record = result.observation, result.archived
    title, text = result.main_title or obs.title, result.main_text
    if earlier is not None:
        title, text = earlier[0] or obs.title, earlier[1]
    # The Recorder's rule (rotwatch/prepared.py): the rows must compare equal.
    drift = against_baseline(text, baseline[1] if baseline is not None else None,
                             same_payload=same)
    snapshot = None
    if record is not None:
        snapshot = judged_row(
            result.checked_at, obs, record, result.captures,
            mime=media_type(obs.content_type) or None, title=title,
            # as the Recorder does: a revisit's text is its original's, stored once
            text=None if earlier is not None else text)
    attempts = attempt_rows(result.checked_at, result.captures, record)
    return CheckRow(result.target_id, result.checked_at, obs, result.judgement,
                    drift.content_hash, drift.similarity, drift.drifted, snapshot, attempts)
