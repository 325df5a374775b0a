"""The long-running scheduler behind `rotwatch daemon` (APScheduler 3, BlockingScheduler).

Jobs: ingest, check and report run `rotwatch <command>` as child processes (a Twisted
reactor cannot restart, so each crawl needs a fresh process); maintenance checkpoints the
WAL in-process. Schedules are standard 5-field cron expressions from `[daemon]`.
See docs/daemon.md.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from archive.store import Store, StoreError
from archive.store.lock import StoreBusy
from core.exitcodes import ExitCode
from scheduler.cron import parse_cron
from scheduler.host import DaemonHost
from scheduler.jobs import (
    ChildRunner,
    RetryPolicy,
    RunRecorder,
    maintain,
    record_child_job,
    run_with_retries,
)

LOG = logging.getLogger("rotwatch.daemon")
JOBS = ("ingest", "check", "report", "maintenance")  # also the order --run-now uses


class DaemonError(Exception):
    """A configuration or environment problem found at start; the message says which."""


def cron_trigger(expression: str, key: str, tz: tzinfo | None = None) -> CronTrigger:
    """A trigger from a standard 5-field crontab expression; DaemonError names the key."""
    try:
        return parse_cron(expression, tz)
    except ValueError as exc:
        raise DaemonError(f"[daemon] {key} = {expression!r} is not a valid cron "
                          f"expression: {exc}") from None


def _local_zone() -> tzinfo | None:
    """The zone cron expressions are read in: the system's, as cron does."""
    return None  # CronTrigger/BlockingScheduler resolve None to the local zone (tzlocal)


def triggers(config: DaemonHost, tz: tzinfo | None = None) -> dict[str, CronTrigger]:
    daemon = config.daemon
    expressions = {"ingest": daemon.ingest_cron, "check": daemon.check_cron,
                   "report": daemon.report_cron, "maintenance": daemon.maintenance_cron}
    return {job: cron_trigger(expr, f"{job}_cron", tz) for job, expr in expressions.items()}


def next_fire_times(config: DaemonHost, now: datetime,
                    tz: tzinfo | None = None) -> dict[str, datetime]:
    """When each daemon job fires next after `now` (aware); cron read in `tz`, default
    now's zone. Pure: the clock is a parameter. Raises DaemonError on a bad expression."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    result: dict[str, datetime] = {}
    for job, trigger in triggers(config, tz or now.tzinfo).items():
        fire = trigger.get_next_fire_time(None, now)
        if fire is not None:
            result[job] = fire
    return result


def validate(config: DaemonHost) -> None:
    """Everything that would otherwise fail later, at 3 a.m.: schedules, data dir, store."""
    triggers(config)
    data_dir = config.data_dir
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise DaemonError(f"data directory {data_dir} is not writable: {exc}") from None
    try:
        Store(config.store_path).close()
    except StoreError as exc:
        raise DaemonError(str(exc)) from None


@dataclass(frozen=True)
class DaemonOptions:
    allow_private: bool = False
    run_now: bool = False
    has_report: bool = False  # is there a `rotwatch report` command to run?
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    poll_seconds: float = 0.2


class Daemon:
    def __init__(self, config: DaemonHost, options: DaemonOptions) -> None:
        self.config = config
        self.options = options
        self.stop = threading.Event()
        daemon = config.daemon
        self.runner = ChildRunner(self.stop, daemon.shutdown_grace_seconds,
                                  options.poll_seconds)
        self.recorder = RunRecorder(config.store_path, os.getpid())
        self.retry = RetryPolicy(daemon.crash_retries, options.retry.wait_initial,
                                 options.retry.wait_max)
        # One lock per job: the --run-now sequence and a cron firing never overlap.
        self._busy = {job: threading.Lock() for job in JOBS}
        self._wake_r, self._wake_w = os.pipe()
        self.scheduler = BlockingScheduler(
            jobstores={"default": MemoryJobStore()},  # a job store cannot be shared
            executors={"default": ThreadPoolExecutor(len(JOBS) + 1)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          # APScheduler's default grace is 1 s: a run delayed by a busy
                          # pool or a suspended laptop would be dropped silently.
                          "misfire_grace_time": max(1, int(daemon.misfire_grace_hours * 3600))},
            timezone=_local_zone(),
        )

    # ---- child command lines -----------------------------------------------------------
    def _argv(self, command: str, *extra: str) -> list[str]:
        argv = [sys.executable, "-m", "rotwatch", "--data-dir", str(self.config.data_dir)]
        if self.config.source:
            argv += ["--config", self.config.source]
        return [*argv, command, *extra]

    def _timeout(self) -> float | None:
        minutes = self.config.daemon.check_timeout_minutes
        return minutes * 60 if minutes > 0 else None  # 0 = no limit

    # ---- jobs ----------------------------------------------------------------------------
    def _guarded(self, job: str, work: Callable[[], None]) -> None:
        """Catch everything: a failing job is logged and recorded, never fatal."""
        if self.stop.is_set():
            return
        lock = self._busy[job]
        if not lock.acquire(blocking=False):
            LOG.info("%s is still running; this firing is skipped", job, extra={"job": job})
            return
        try:
            work()
        except Exception:
            LOG.exception("%s job failed", job, extra={"job": job})
        finally:
            lock.release()

    def _child_job(self, job: str, argv: list[str]) -> None:
        record_child_job(self.recorder, job, lambda: run_with_retries(
            self.runner, argv, self._timeout(), self.retry, job))

    def job_ingest(self) -> None:
        self._guarded("ingest", lambda: self._child_job("ingest", self._argv("ingest")))

    def job_check(self) -> None:
        extra = ("--allow-private",) if self.options.allow_private else ()
        self._guarded("check", lambda: self._child_job("check", self._argv("check", *extra)))

    def job_report(self) -> None:
        def work() -> None:
            if not self.options.has_report:
                LOG.info("report skipped: this rotwatch has no `report` command",
                         extra={"job": "report", "status": "skipped"})
                return
            self._child_job("report", self._argv("report", "--configured"))

        self._guarded("report", work)

    def job_maintenance(self) -> None:
        def work() -> None:
            run_id = self.recorder.start("daemon-maintenance")
            try:
                counts = maintain(self.config.store_path, self.config.lock_path,
                                  self.config.daemon.vacuum)
            except StoreBusy as exc:
                LOG.warning("maintenance skipped: %s", exc, extra={"job": "maintenance",
                                                                    "status": "busy"})
                self.recorder.finish(run_id, status="busy", exit_code=ExitCode.BUSY,
                                     message=str(exc))
                return
            except Exception as exc:
                self.recorder.finish(run_id, status="failed", exit_code=ExitCode.ERROR,
                                     message=f"{type(exc).__name__}: {exc}")
                raise
            LOG.info("maintenance finished: %s", counts,
                     extra={"job": "maintenance", "status": "ok", "run_id": run_id})
            self.recorder.finish(run_id, status="ok", exit_code=ExitCode.OK, counts=counts)

        self._guarded("maintenance", work)

    def _startup_sequence(self) -> None:
        for job in JOBS:  # in order: ingest before check, so new links are checked at once
            if self.stop.is_set():
                return
            getattr(self, f"job_{job}")()

    # ---- lifecycle -------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only async-signal-safe work here: the watcher thread does the rest (shutting the
        # scheduler down takes locks the interrupted main thread may hold).
        os.write(self._wake_w, bytes([signum]))

    def _watch_signals(self) -> None:
        signum = os.read(self._wake_r, 1)[0]
        LOG.info("received %s: stopping (grace %.0fs for a running crawl)",
                 signal.Signals(signum).name, self.config.daemon.shutdown_grace_seconds)
        self.stop.set()
        for _ in range(600):  # a signal just before start(): wait (bounded) until it runs
            try:
                self.scheduler.shutdown(wait=False)
                return
            except SchedulerNotRunningError:
                time.sleep(0.05)
        LOG.error("the scheduler never started; exiting anyway")
        os._exit(ExitCode.OK)

    def run(self) -> bool:
        """Schedule and block until SIGTERM/SIGINT; True if every job ended in time."""
        for job, trigger in triggers(self.config).items():
            self.scheduler.add_job(getattr(self, f"job_{job}"), trigger, id=job, name=job,
                                   replace_existing=True)
        if self.options.run_now:
            self.scheduler.add_job(self._startup_sequence, id="run-now", name="run-now",
                                   replace_existing=True)  # no trigger: once, right away
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        threading.Thread(target=self._watch_signals, name="signals", daemon=True).start()
        try:
            LOG.info("daemon started (pid %d); next: %s", os.getpid(), ", ".join(
                f"{job} {fire:%Y-%m-%d %H:%M %Z}"
                for job, fire in next_fire_times(self.config, datetime.now().astimezone(),
                                                 ).items()))
            self.scheduler.start()  # blocks until the watcher shuts it down
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        return self._drain()

    def _drain(self) -> bool:
        """Wait for running jobs (their children get SIGTERM, then SIGKILL after the grace)."""
        deadline = time.monotonic() + self.config.daemon.shutdown_grace_seconds + 20
        clean = True
        for job, lock in self._busy.items():
            if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                LOG.error("%s did not finish within the shutdown grace", job)
                clean = False
        LOG.info("daemon stopped", extra={"status": "ok" if clean else "forced"})
        return clean


def fire_times_text(config: DaemonHost, now: datetime) -> list[str]:
    """Lines for `rotwatch status`: "check  2024-07-29 10:10 (in 0:04:12)"."""
    return [f"{job:<12} {fire:%Y-%m-%d %H:%M %Z} (in {str(fire - now).split('.')[0]})"
            for job, fire in sorted(next_fire_times(config, now).items(),
                                    key=lambda item: item[1])
            if fire - now >= timedelta(0)]
