"""One daemon job run, told everywhere it is watched: its `runs` row, its `daemon_jobs` row,
the log line with its numbers, and systemd's status line."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.store import Store
from core.exitcodes import ExitCode
from scheduler.jobs import ChildOutcome, ChildRunner, RetryPolicy, RunRecorder, run_with_retries
from scheduler.notify import Notifier
from scheduler.state import DaemonState
from scheduler.summaries import CheckNumbers, JobReport, child_report

LOG = logging.getLogger("rotwatch.daemon")
_NUMBERS = ("checked", "broken", "failing", "dead", "seconds")  # log fields, when present


class JobRuns:
    def __init__(self, store_path: Path, recorder: RunRecorder, state: DaemonState,
                 notifier: Notifier, runner: ChildRunner, retry: RetryPolicy,
                 timeout: float | None) -> None:
        self.store_path = store_path
        self.recorder = recorder
        self.state = state
        self.notifier = notifier
        self.runner = runner
        self.retry = retry
        self.timeout = timeout

    def _started(self, job: str, fired_by: str) -> tuple[int | None, datetime, float]:
        started = datetime.now(UTC)
        run_id = self.recorder.start(f"daemon-{job}")
        self.state.job_started(job, fired_by, started, run_id)
        self.notifier.status(f"{job} running (since {started:%H:%M:%S} UTC)")
        return run_id, started, time.monotonic()

    def _finished(self, report: JobReport, run_id: int | None,
                  last: ChildOutcome | None = None) -> None:
        extra: dict[str, Any] = {"job": report.job, "status": report.outcome,
                                 "exit_code": report.exit_code, "run_id": run_id}
        extra |= {key: report.counts[key] for key in _NUMBERS if key in report.counts}
        if last is not None:
            extra["child_pid"] = last.pid
            if report.level > logging.INFO:
                extra["output"] = last.output
        LOG.log(report.level, "%s", report.summary, extra=extra)
        self.recorder.finish(run_id, status=report.outcome,
                             exit_code=ExitCode.ERROR if report.exit_code is None
                             else report.exit_code, counts=report.counts,
                             message=report.message)
        self.state.job_finished(report.job, outcome=report.outcome,
                                exit_code=report.exit_code, counts=report.counts,
                                summary=report.summary)
        self.notifier.status(report.summary)

    def run_child(self, job: str, argv: list[str], fired_by: str) -> None:
        """Run `rotwatch <job>` as a child (crashes retried) and record how it went."""
        run_id, started, clock = self._started(job, fired_by)
        attempts = run_with_retries(self.runner, argv, self.timeout, self.retry, job)
        numbers = self._check_numbers(attempts, started) if job == "check" else None
        report = child_report(job, attempts, time.monotonic() - clock, numbers)
        self._finished(report, run_id, attempts[-1] if attempts else None)

    def run_in_process(self, job: str, fired_by: str,
                       work: Callable[[float], JobReport]) -> None:
        """Run `work` (given its monotonic start) here and record the report it returns."""
        run_id, _, clock = self._started(job, fired_by)
        self._finished(work(clock), run_id)

    def _check_numbers(self, attempts: list[ChildOutcome],
                       started: datetime) -> CheckNumbers | None:
        """What the child check recorded in its own run (found by its pid)."""
        spawned = [a for a in attempts if a.spawned]
        if not spawned:
            return None
        try:
            with Store(self.store_path) as store:
                run = store.run_of_process("check", spawned[-1].pid, started)
                if run is None or run.ended_at is None:
                    return None
                return CheckNumbers.of(run, store.run_link_states(run.id))
        except Exception as exc:
            LOG.warning("could not read the check's numbers: %s", exc, extra={"job": "check"})
            return None
