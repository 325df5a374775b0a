"""A target's row after a check: the recheck policy applied to its history (or to the
summary of it the target keeps, extended by its new checks).

One function for every path that records checks (a local crawl's Recorder, a fleet's
gathered results), so a link's state and next check never depend on where it was checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from sqlite_utils import Database

from archive.store.checks import CheckRow, TargetUpdate
from archive.store.results import histories
from archive.store.summaries import summaries
from core.exchange import ArchivedRecord
from core.policy import (
    PastCheck,
    PolicyConfig,
    Summary,
    extend,
    link_state,
    next_check_at,
    summarise,
)
from core.records import Judgement, Observation, Validators, Verdict


def target_update(target_id: int, key: str, host: str, verdict: Verdict, checked_at: datetime,
                  history: list[PastCheck] | Summary, policy: PolicyConfig, *,
                  snapshot_id: int | None = None,
                  validators: Validators | None = None) -> TargetUpdate:
    """The state, failure streak and next check of a target whose history (this check
    included) is `history`, or is summarised by it (core.policy.Summary); the summary
    goes to the store with them, for the next check."""
    summary = history if isinstance(history, Summary) else summarise(history, policy)
    assessment = link_state(summary, checked_at, policy)
    due = next_check_at(summary, checked_at, policy, key=key, host=host)
    return TargetUpdate(
        target_id=target_id, state=assessment.state.value,
        state_since=assessment.state_since, last_verdict=verdict.value,
        consecutive_failures=assessment.consecutive_failures,
        first_failure_at=assessment.first_failure_at,
        last_failure_at=assessment.last_failure_at, last_ok_at=assessment.last_ok_at,
        last_checked_at=checked_at, next_check_at=due, baseline_snapshot_id=snapshot_id,
        validators=validators, policy_summary=summary)


def judged_histories(db: Database, rows: Sequence[CheckRow], policy: PolicyConfig
                     ) -> dict[int, list[PastCheck] | Summary]:
    """What the policy judges each target by, its new checks (`rows`, in the store
    already, in the order recorded) included: its stored summary extended by them; its
    last checks, read back, for a target without a summary (or with a check older than
    its last). Reading the history cost more the longer it was (docs/benchmarks.md)."""
    new: dict[int, list[PastCheck]] = {}
    for row in rows:
        new.setdefault(row.target_id, []).append(
            past_check(row.checked_at, row.judgement, row.drifted))
    stored = summaries(db, new)
    judged: dict[int, list[PastCheck] | Summary] = {}
    for target_id, checks in new.items():
        summary = extended(stored.get(target_id), checks, policy)
        if summary is not None:
            judged[target_id] = summary
    judged |= histories(db, [t for t in new if t not in judged])
    return judged


def extended(summary: Summary | None, checks: list[PastCheck], policy: PolicyConfig
             ) -> Summary | None:
    """`summary` with these new checks (in the order recorded) added, or None when it
    cannot tell: no summary, or a check older than one before it (the history sorts it
    elsewhere; it is read from the store instead)."""
    for check in checks:
        if summary is None or (summary.last_checked is not None
                               and check.checked_at < summary.last_checked):
            return None
        summary = extend(summary, check, policy)
    return summary


def past_check(checked_at: datetime, judgement: Judgement, drifted: bool | None
               ) -> PastCheck:
    """A new check as the store gives it back to the policy: its time to the second, as
    archive.store.db.to_db keeps it (cut, not rounded)."""
    return PastCheck(checked_at.astimezone(UTC).replace(microsecond=0), judgement.verdict,
                     bool(judgement.permanent_redirect), bool(drifted))


def validators_after(obs: Observation, judgement: Judgement, sent: Validators | None,
                     record: ArchivedRecord | None) -> Validators | None:
    """What the next recheck of this target sends: the validators of a good, whole 200
    (with the capture they belong to), the same ones again after a 304 that confirmed
    them (`sent`), and none after anything else (the next check is then an ordinary GET)."""
    if obs.error is not None or not judgement.verdict.is_healthy:
        return None
    etag, modified = obs.header("ETag"), obs.header("Last-Modified")
    if obs.status == 304 and obs.conditional:
        if sent is None:
            return None
        return replace(sent, etag=etag or sent.etag, last_modified=modified or sent.last_modified)
    if obs.status != 200 or obs.truncated or not (etag or modified):
        return None
    return Validators(obs.final_url, etag, modified, record.capture if record else None)
