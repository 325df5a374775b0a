"""The long-running scheduler behind `rotwatch daemon` (APScheduler 3, BlockingScheduler).

Jobs: ingest, check and report run `rotwatch <command>` as child processes (a Twisted
reactor cannot restart, so each crawl needs a fresh process); maintenance checkpoints the
WAL in-process. Ingest and check are one chain, so links ingested in a minute are in that
minute's check. Schedules are cron expressions from `[daemon]`. The daemon's heartbeat and
each job's last run go to the store (`rotwatch status`), and to systemd by sd_notify.
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
from datetime import UTC, datetime
from types import FrameType

from apscheduler.events import EVENT_SCHEDULER_STARTED, SchedulerEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.interval import IntervalTrigger

from archive.store import Store, StoreError
from core.exitcodes import ExitCode
from scheduler.host import DaemonHost
from scheduler.job_runs import JobRuns
from scheduler.jobs import ChildRunner, RetryPolicy, RunRecorder
from scheduler.maintenance_job import run_maintenance
from scheduler.notify import Notifier, NotifySettings
from scheduler.schedule import (
    JOBS,
    DaemonError,
    cron_trigger,
    fire_times_text,
    local_zone,
    next_fire_times,
    triggers,
)
from scheduler.state import DaemonState

LOG = logging.getLogger("rotwatch.daemon")
CHAIN = ("ingest", "check")  # one scheduler job, in this order


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
    notify: NotifySettings = field(default_factory=NotifySettings)


class Daemon:
    def __init__(self, config: DaemonHost, options: DaemonOptions) -> None:
        self.config = config
        self.options = options
        self.stop = threading.Event()
        daemon = config.daemon
        self.state = DaemonState(config.store_path, os.getpid(), daemon.heartbeat_seconds)
        self.notifier = Notifier(options.notify)
        runner = ChildRunner(self.stop, daemon.shutdown_grace_seconds, options.poll_seconds)
        retry = RetryPolicy(daemon.crash_retries, options.retry.wait_initial,
                            options.retry.wait_max)
        minutes = daemon.check_timeout_minutes
        self.jobs = JobRuns(config.store_path, RunRecorder(config.store_path, os.getpid()),
                            self.state, self.notifier, runner, retry,
                            minutes * 60 if minutes > 0 else None)  # 0 = no limit
        self._triggers = triggers(config)
        # When each chained job last ran (or the daemon started): a firing after it is due.
        self._served = {job: datetime.now(UTC) for job in CHAIN}
        self._stop_reason = "stopped"
        # The chain skips a firing while it runs (its own line, not APScheduler's warning).
        self._chain = threading.Lock()
        # One lock per job: the --run-now sequence and a cron firing never overlap.
        self._busy = {job: threading.Lock() for job in JOBS}
        self._wake_r, self._wake_w = os.pipe()
        self.scheduler = BlockingScheduler(
            jobstores={"default": MemoryJobStore()},  # a job store cannot be shared
            # Heartbeat and watchdog have threads of their own: long jobs never delay them,
            # so only a scheduler that stopped scheduling stops them.
            executors={"default": ThreadPoolExecutor(len(JOBS) + 1),
                       "housekeeping": ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          # APScheduler's default grace is 1 s: a run delayed by a busy
                          # pool or a suspended laptop would be dropped silently.
                          "misfire_grace_time": max(1, int(daemon.misfire_grace_hours * 3600))},
            timezone=local_zone(),
        )

    # ---- child command lines -----------------------------------------------------------
    def _argv(self, command: str, *extra: str) -> list[str]:
        argv = [sys.executable, "-m", "rotwatch", "--data-dir", str(self.config.data_dir)]
        if self.config.source:
            argv += ["--config", self.config.source]
        return [*argv, "--trigger", "daemon", command, *extra]

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

    def job_ingest(self, fired_by: str = "schedule") -> None:
        self._guarded("ingest", lambda: self.jobs.run_child("ingest", self._argv("ingest"),
                                                        fired_by))

    def job_check(self, fired_by: str = "schedule") -> None:
        extra = ("--allow-private",) if self.options.allow_private else ()
        self._guarded("check", lambda: self.jobs.run_child("check", self._argv("check", *extra),
                                                       fired_by))

    def job_chain(self) -> None:
        """Ingest, then check: each if its schedule fired since it last ran here. Both
        firing in the same minute is one run of this job, ingest first."""
        if not self._chain.acquire(blocking=False):
            LOG.info("ingest+check is still running; this firing is skipped")
            return
        try:
            now = datetime.now(UTC)
            for job in CHAIN:
                fire = self._triggers[job].get_next_fire_time(self._served[job], now)
                if fire is not None and fire <= now:
                    self._served[job] = now
                    getattr(self, f"job_{job}")()
        finally:
            self._chain.release()

    def job_report(self, fired_by: str = "schedule") -> None:
        def work() -> None:
            if not self.options.has_report:
                LOG.info("report skipped: this rotwatch has no `report` command",
                         extra={"job": "report", "status": "skipped"})
                return
            self.jobs.run_child("report", self._argv("report", "--configured"), fired_by)

        self._guarded("report", work)

    def job_maintenance(self, fired_by: str = "schedule") -> None:
        def work() -> None:
            self.jobs.run_in_process("maintenance", fired_by,
                                     lambda clock: run_maintenance(self.config, clock))

        self._guarded("maintenance", work)

    def _startup_sequence(self) -> None:
        for job in JOBS:  # in order: ingest before check, so new links are checked at once
            if self.stop.is_set():
                return
            getattr(self, f"job_{job}")("run-now")

    # ---- lifecycle -------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only async-signal-safe work here: the watcher thread does the rest (shutting the
        # scheduler down takes locks the interrupted main thread may hold).
        os.write(self._wake_w, bytes([signum]))

    def _watch_signals(self) -> None:
        signum = os.read(self._wake_r, 1)[0]
        self._stop_reason = signal.Signals(signum).name
        LOG.info("received %s: stopping (grace %.0fs for a running crawl)",
                 self._stop_reason, self.config.daemon.shutdown_grace_seconds)
        self.notifier.stopping(f"stopping on {self._stop_reason}")
        self.stop.set()
        for _ in range(600):  # a signal just before start(): wait (bounded) until it runs
            try:
                self.scheduler.shutdown(wait=False)
                return
            except SchedulerNotRunningError:
                time.sleep(0.05)
        LOG.error("the scheduler never started; exiting anyway")
        os._exit(ExitCode.OK)

    def _next_text(self) -> str:
        return ", ".join(f"{job} {fire:%Y-%m-%d %H:%M:%S %Z}" for job, fire in
                         next_fire_times(self.config, datetime.now().astimezone()).items())

    def _on_started(self, event: SchedulerEvent) -> None:
        self.notifier.ready(f"waiting; next: {self._next_text()}")
        self.notifier.watchdog()

    def _schedule(self) -> None:
        chain = OrTrigger([self._triggers[job] for job in CHAIN])
        self.scheduler.add_job(self.job_chain, chain, id="ingest+check", name="ingest+check",
                               max_instances=2)
        for job in ("report", "maintenance"):
            self.scheduler.add_job(getattr(self, f"job_{job}"), self._triggers[job], id=job,
                                   name=job)
        if self.options.run_now:
            self.scheduler.add_job(self._startup_sequence, id="run-now", name="run-now")
        self.scheduler.add_job(self.state.beat, IntervalTrigger(
            seconds=self.config.daemon.heartbeat_seconds), id="heartbeat",
            executor="housekeeping")
        watchdog = self.options.notify.watchdog_seconds
        if watchdog and self.notifier.enabled:
            self.scheduler.add_job(self.notifier.watchdog, IntervalTrigger(seconds=watchdog),
                                   id="watchdog", executor="housekeeping")
        self.scheduler.add_listener(self._on_started, EVENT_SCHEDULER_STARTED)

    def run(self) -> bool:
        """Schedule and block until SIGTERM/SIGINT; True if every job ended in time."""
        self.state.register()
        self._schedule()
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        threading.Thread(target=self._watch_signals, name="signals", daemon=True).start()
        try:
            LOG.info("daemon started (pid %d); next: %s", os.getpid(), self._next_text())
            self.scheduler.start()  # blocks until the watcher shuts it down
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        clean = self._drain()
        self.state.stopped(self._stop_reason if clean else f"{self._stop_reason} (forced)")
        self.notifier.stopping("stopped")
        self.notifier.close()
        return clean

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


__all__ = ["JOBS", "Daemon", "DaemonError", "DaemonOptions", "cron_trigger", "fire_times_text",
           "next_fire_times", "triggers", "validate"]
