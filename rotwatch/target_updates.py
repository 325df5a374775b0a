"""A target's row after a check: the recheck policy applied to its history.

One function for every path that records checks (a local crawl's Recorder, a fleet's
gathered results), so a link's state and next check never depend on where it was checked.
"""

from __future__ import annotations

from datetime import datetime

from archive.store.checks import TargetUpdate
from core.policy import PastCheck, PolicyConfig, link_state, next_check_at
from core.records import Validators, Verdict


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
