"""The daemon's observable state in the store: its heartbeat and each job's last run.

`rotwatch status` reads it back. Like the runs the daemon records, a store problem here
is logged and never raised: the daemon must outlive a full disk or a locked database.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from archive.store import Store

LOG = logging.getLogger("rotwatch.daemon")
T = TypeVar("T")


class DaemonState:
    """One daemon process's row in `daemons` and its jobs' rows in `daemon_jobs`."""

    def __init__(self, store_path: Path, pid: int, heartbeat_seconds: float) -> None:
        self.store_path = store_path
        self.pid = pid
        self.heartbeat_seconds = heartbeat_seconds
        self.daemon_id: int | None = None
        self._failing = False  # heartbeat failures are logged once per streak, not each beat

    def _write(self, what: str, work: Callable[[Store], T]) -> T | None:
        try:
            with Store(self.store_path) as store:
                result = work(store)
        except Exception as exc:
            if not self._failing:
                LOG.error("could not record %s: %s", what, exc, extra={"status": "store-error"})
            self._failing = True
            return None
        if self._failing:
            LOG.info("recording %s works again", what)
        self._failing = False
        return result

    def register(self) -> None:
        self.daemon_id = self._write("the daemon's start", lambda store: store.register_daemon(
            self.pid, socket.gethostname(), datetime.now(UTC), self.heartbeat_seconds))

    def beat(self) -> None:
        if self.daemon_id is None:  # the start was not recorded (store down): try again
            self.register()
            return
        daemon_id = self.daemon_id
        self._write("the heartbeat", lambda store: store.heartbeat(daemon_id, datetime.now(UTC)))

    def stopped(self, reason: str) -> None:
        if self.daemon_id is not None:
            daemon_id = self.daemon_id
            self._write("the daemon's stop", lambda store: store.daemon_stopped(
                daemon_id, datetime.now(UTC), reason))

    def job_started(self, job: str, fired_by: str, started: datetime,
                    run_id: int | None) -> None:
        if self.daemon_id is not None:
            daemon_id = self.daemon_id
            self._write(f"the start of {job}", lambda store: store.job_started(
                job, daemon_id, fired_by, started, run_id))

    def job_finished(self, job: str, *, outcome: str, exit_code: int | None,
                     counts: dict[str, Any] | None, summary: str) -> None:
        if self.daemon_id is not None:
            self._write(f"the end of {job}", lambda store: store.job_finished(
                job, datetime.now(UTC), outcome=outcome, exit_code=exit_code, counts=counts,
                summary=summary))
