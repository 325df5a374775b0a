"""How the daemon's jobs run: a rotwatch child process, crash retries, the `runs` rows.

Each job run is one row in `runs` with kind `daemon-<job>` and trigger `daemon`; a child
`rotwatch check` also records its own `check` row (trigger `daemon` too), so a daemon-check
row says how the child ended and the check row says what the crawl found.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_result,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential,
)

from archive.store import Store
from core.exitcodes import ExitCode

LOG = logging.getLogger("rotwatch.daemon")
OUTPUT_TAIL = 2000  # characters of a child's output kept in logs and in runs.message


@dataclass(frozen=True)
class ChildOutcome:
    """How one child process ended."""

    returncode: int  # negative: killed by that signal (subprocess convention)
    pid: int
    output: str = ""  # the tail of its stdout + stderr
    timed_out: bool = False
    interrupted: bool = False  # the daemon was shutting down and stopped it
    spawned: bool = True

    @property
    def crashed(self) -> bool:
        """Worth a retry: exit 1 or killed by someone else. Not 2 (dead links), not 3 (busy),
        and not a timeout or shutdown we caused ourselves (retrying would only repeat it)."""
        if self.timed_out or self.interrupted or not self.spawned:
            return False
        return self.returncode == ExitCode.ERROR or self.returncode < 0

    @property
    def status(self) -> str:
        if self.interrupted:
            return "interrupted"
        if self.timed_out:
            return "timeout"
        if self.returncode == ExitCode.OK:
            return "ok"
        if self.returncode == ExitCode.DEAD_LINKS:
            return "attention"  # links need attention; a check says which (failing, dead)
        if self.returncode == ExitCode.BUSY:
            return "busy"
        return "failed"

    def describe(self) -> str:
        if self.returncode < 0:
            try:
                return f"killed by {signal.Signals(-self.returncode).name}"
            except ValueError:
                return f"killed by signal {-self.returncode}"
        return f"exit {self.returncode}"


@dataclass(frozen=True)
class RetryPolicy:
    """Crash retries: `retries` more attempts after the first, waits growing exponentially."""

    retries: int = 3
    wait_initial: float = 2.0
    wait_max: float = 60.0


class ChildRunner:
    """Runs one child at a time per call, bounded by a timeout and by the stop event."""

    def __init__(self, stop: threading.Event, grace_seconds: float, poll_seconds: float = 0.2):
        self.stop = stop
        self.grace = grace_seconds
        self.poll = poll_seconds

    def run(self, argv: Sequence[str], timeout: float | None) -> ChildOutcome:
        if self.stop.is_set():  # a retry wait cut short by shutdown: do not start anew
            return ChildOutcome(0, 0, "not started: shutting down", interrupted=True,
                                spawned=False)
        with tempfile.TemporaryFile() as out:
            # A process group of its own: a Ctrl-C on the terminal reaches only the daemon,
            # which then sends exactly one SIGTERM. Scrapy treats a second signal as
            # "stop now, uncleanly", so the child must not get the terminal's too.
            proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, process_group=0)
            LOG.info("started %s", " ".join(argv[3:]), extra={"child_pid": proc.pid})
            deadline = None if not timeout else time.monotonic() + timeout
            timed_out = interrupted = False
            while True:  # bounded: by the timeout, or by the stop event plus the grace
                try:
                    code = proc.wait(timeout=self.poll)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if self.stop.is_set():
                    interrupted = True
                elif deadline is not None and time.monotonic() >= deadline:
                    timed_out = True
                if interrupted or timed_out:
                    code = self._terminate(proc)
                    break
            return ChildOutcome(code, proc.pid, _tail(out), timed_out, interrupted)

    def _terminate(self, proc: subprocess.Popen[bytes]) -> int:
        """SIGTERM (Scrapy closes the spider, the recorder flushes), then SIGKILL."""
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=self.grace)
        except subprocess.TimeoutExpired:
            LOG.warning("child %d ignored SIGTERM for %.0fs: killing it", proc.pid, self.grace)
            proc.kill()
            return proc.wait(timeout=30)


def _tail(out: IO[bytes]) -> str:
    out.seek(0, 2)
    size = out.tell()
    out.seek(max(0, size - OUTPUT_TAIL * 4))
    return out.read().decode(errors="replace")[-OUTPUT_TAIL:].strip()


def _interruptible_sleep(stop: threading.Event) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        stop.wait(seconds)

    return sleep


def run_with_retries(runner: ChildRunner, argv: Sequence[str], timeout: float | None,
                     policy: RetryPolicy, job: str) -> list[ChildOutcome]:
    """Run `argv`, retrying crashes; returns every attempt's outcome, last one last."""
    attempts: list[ChildOutcome] = []

    def attempt() -> ChildOutcome:
        outcome = runner.run(argv, timeout)
        attempts.append(outcome)
        return outcome

    def before_sleep(state: RetryCallState) -> None:
        last = attempts[-1]
        wait = state.next_action.sleep if state.next_action else 0.0
        LOG.warning("%s crashed (%s); retry %d of %d in %.1fs", job, last.describe(),
                    state.attempt_number, policy.retries, wait,
                    extra={"job": job, "exit_code": last.returncode, "output": last.output})

    retrying = Retrying(
        retry=retry_if_result(lambda o: isinstance(o, ChildOutcome) and o.crashed),
        stop=stop_after_attempt(policy.retries + 1) | stop_when_event_set(runner.stop),
        wait=wait_exponential(multiplier=policy.wait_initial, max=policy.wait_max),
        # The wait is cut short by shutdown; the runner then declines to start a child.
        sleep=_interruptible_sleep(runner.stop),
        before_sleep=before_sleep,
        retry_error_callback=lambda state: None,  # out of attempts: keep the last outcome
    )
    retrying(attempt)
    return attempts


class RunRecorder:
    """Writes the daemon's own rows in `runs`. A store problem is logged, never raised:
    the daemon must outlive a full disk or a locked database."""

    def __init__(self, store_path: Path, pid: int) -> None:
        self.store_path = store_path
        self.pid = pid

    def start(self, kind: str) -> int | None:
        try:
            with Store(self.store_path) as store:
                return store.start_run(kind, "daemon", self.pid, datetime.now(UTC))
        except Exception:
            LOG.exception("could not record the start of %s", kind)
            return None

    def finish(self, run_id: int | None, *, status: str, exit_code: int,
               counts: dict[str, Any] | None = None, message: str | None = None) -> None:
        if run_id is None:
            return
        try:
            with Store(self.store_path) as store:
                store.finish_run(run_id, status=status, exit_code=exit_code,
                                 now=datetime.now(UTC), counts=counts, message=message)
        except Exception:
            LOG.exception("could not record the end of run %s", run_id)


__all__ = ["ChildOutcome", "ChildRunner", "RetryPolicy", "RunRecorder", "run_with_retries"]
