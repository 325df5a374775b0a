"""The maintenance job, in-process: a WAL checkpoint (and VACUUM) under the writer lock."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from archive.store import Store
from archive.store.lock import StoreBusy, WriterLock
from core.exitcodes import ExitCode
from scheduler.host import DaemonHost
from scheduler.summaries import JobReport, duration_text


def maintain(store_path: Path, lock_path: Path, vacuum: bool,
             checkpoint_attempts: int = 5) -> dict[str, Any]:
    """Checkpoint the WAL into the main file (and VACUUM if asked) under the writer lock.

    The lock keeps VACUUM — which rewrites the whole file and blocks every writer — from
    running under a crawl; a busy store raises StoreBusy and the job is skipped.
    """
    with WriterLock(lock_path, "maintenance"), Store(store_path) as store:
        result = store.checkpoint(checkpoint_attempts)
        if vacuum:
            result["vacuum_seconds"] = store.vacuum()
        return result


def run_maintenance(config: DaemonHost, clock: float) -> JobReport:
    """Run maintenance and say how it went; `clock` is when it started (monotonic)."""
    try:
        counts = maintain(config.store_path, config.lock_path, config.daemon.vacuum)
    except StoreBusy as exc:
        took = duration_text(time.monotonic() - clock)
        return JobReport("maintenance", "busy", ExitCode.BUSY,
                         f"maintenance finished: busy ({exc}), {took}", message=str(exc))
    except Exception as exc:
        took = duration_text(time.monotonic() - clock)
        return JobReport("maintenance", "failed", ExitCode.ERROR,
                         f"maintenance finished: failed ({type(exc).__name__}: {exc}), {took}",
                         message=f"{type(exc).__name__}: {exc}")
    took = duration_text(time.monotonic() - clock)
    done = f"{counts.get('checkpointed', 0)} WAL page(s) checkpointed"
    if "vacuum_seconds" in counts:
        done += f", vacuumed in {duration_text(counts['vacuum_seconds'])}"
    return JobReport("maintenance", "ok", ExitCode.OK, f"maintenance finished: {done}, {took}",
                     counts)
