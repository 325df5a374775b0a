"""Store upkeep: WAL checkpoints and VACUUM (the daemon's maintenance job)."""

from __future__ import annotations

import time
from typing import Any

from archive.store.db import Tables, retry_locked


class MaintenanceSide(Tables):
    """Store methods for upkeep; mixed into `Store`. Run them under the writer lock."""

    def checkpoint(self, attempts: int = 5) -> dict[str, Any]:
        """Copy the WAL into the main file and truncate it; readers can hold the WAL, so
        try a few times. Returns SQLite's answer (busy, log pages, checkpointed)."""
        result: dict[str, Any] = {}
        for n in range(attempts):
            busy, log_pages, done = self.db.conn.execute(
                "PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            result = {"checkpoint_busy": busy, "wal_pages": log_pages, "checkpointed": done}
            if not busy:
                break
            time.sleep(0.2 * (2**n))
        return result

    def vacuum(self) -> float:
        """Rewrite the whole file compactly; returns the seconds it took."""
        started = time.monotonic()
        retry_locked(lambda: self.db.conn.execute("VACUUM"))()
        return round(time.monotonic() - started, 3)
