"""What a finished daemon job says: its outcome, its numbers and the one line that tells them.

"check finished: 9 checked, 2 broken, 0 dead, 41 s" goes to the log, to the job's row in
the store and to systemd's status line alike. Pure: the numbers come in as parameters.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from archive.store import RunRow
from core.records import Verdict
from scheduler.jobs import ChildOutcome

_VERDICTS = frozenset(v.value for v in Verdict)
_QUIET = frozenset({"ok", "attention", "failing", "dead", "interrupted"})  # logged as INFO


@dataclass(frozen=True)
class CheckNumbers:
    """What one check run found: from its `runs` row and the states of its targets."""

    run_id: int
    checked: int
    broken: int  # checks whose verdict is a failure (Verdict.is_failure)
    failing: int  # checked targets now in state failing (a first 404 is failing, not dead)
    dead: int  # checked targets now in state dead

    @classmethod
    def of(cls, run: RunRow, states: Mapping[str, int]) -> CheckNumbers:
        counts: dict[str, Any] = json.loads(run.counts) if run.counts else {}
        broken = sum(int(n) for verdict, n in counts.items()
                     if verdict in _VERDICTS and Verdict(verdict).is_failure)
        return cls(run.id, int(counts.get("checked", 0)), broken, states.get("failing", 0),
                   states.get("dead", 0))


@dataclass(frozen=True)
class JobReport:
    job: str
    outcome: str  # ok, failing, dead, attention, busy, failed, timeout, interrupted
    exit_code: int | None
    summary: str
    counts: dict[str, Any] = field(default_factory=dict)
    message: str | None = None  # for runs.message: why it did not succeed

    @property
    def level(self) -> int:
        if self.outcome in _QUIET:
            return logging.INFO
        return logging.WARNING if self.outcome == "busy" else logging.ERROR


def duration_text(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def _ingest_line(output: str) -> str | None:
    """The child's own summary line ("ingested 2 seed(s): …"), if it printed one."""
    lines = [line for line in output.splitlines() if line.startswith("ingested ")]
    return lines[-1] if lines else None


def child_report(job: str, attempts: Sequence[ChildOutcome], seconds: float,
                 check: CheckNumbers | None = None) -> JobReport:
    """The report of a child job from its attempts (last one last) and, for a check that
    ran, the numbers its run recorded."""
    took = duration_text(seconds)
    if not attempts:
        return JobReport(job, "failed", None, f"{job} finished: failed (no attempt), {took}",
                         message="no attempt")
    last = attempts[-1]
    counts: dict[str, Any] = {
        "attempts": len(attempts), "child_pids": [a.pid for a in attempts if a.spawned],
        "exit_codes": [a.returncode for a in attempts if a.spawned], "seconds": round(seconds, 1)}
    outcome = last.status
    message = f"{last.describe()}; {last.output}" if outcome != "ok" else None
    if outcome == "busy":
        message = "store busy: another rotwatch process holds the writer lock; not retried"
    if check is not None and outcome in ("ok", "attention"):
        if outcome == "attention":
            outcome = "dead" if check.dead else "failing" if check.failing else "attention"
            message = None  # a check finding broken links is the check working
        counts |= {"check_run_id": check.run_id, "checked": check.checked,
                   "broken": check.broken, "failing": check.failing, "dead": check.dead}
        summary = (f"check finished: {check.checked} checked, {check.broken} broken, "
                   f"{check.dead} dead, {took}")
    elif outcome == "ok":
        line = _ingest_line(last.output) if job == "ingest" else None
        summary = f"{job} finished: {line or 'ok'}, {took}"
    else:
        summary = (f"{job} finished: {outcome} ({last.describe()}) after {len(attempts)} "
                   f"attempt(s), {took}")
    return JobReport(job, outcome, last.returncode, summary, counts, message)
