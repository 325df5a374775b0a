"""A target's row after a check: the recheck policy applied to its history.

One function for every path that records checks (a local crawl's Recorder, a fleet's
gathered results), so a link's state and next check never depend on where it was checked.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from archive.store.checks import TargetUpdate
from core.exchange import ArchivedRecord
from core.policy import PastCheck, PolicyConfig, link_state, next_check_at
from core.records import Judgement, Observation, Validators, Verdict


def target_update(target_id: int, key: str, host: str, verdict: Verdict, checked_at: datetime,
                  history: list[PastCheck], policy: PolicyConfig, *,
                  snapshot_id: int | None = None,
                  validators: Validators | None = None) -> TargetUpdate:
    """The state, failure streak and next check of a target whose history (this check
    included) is `history`."""
    assessment = link_state(history, checked_at, policy)
    due = next_check_at(history, checked_at, policy, key=key, host=host)
    return TargetUpdate(
        target_id=target_id, state=assessment.state.value,
        state_since=assessment.state_since, last_verdict=verdict.value,
        consecutive_failures=assessment.consecutive_failures,
        first_failure_at=assessment.first_failure_at,
        last_failure_at=assessment.last_failure_at, last_ok_at=assessment.last_ok_at,
        last_checked_at=checked_at, next_check_at=due, baseline_snapshot_id=snapshot_id,
        validators=validators)


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
