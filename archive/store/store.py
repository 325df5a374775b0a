"""The store's one API object: `Store`, every query and write over one SQLite file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from archive.store.checks import CheckSide
from archive.store.daemons import DaemonSide
from archive.store.db import open_database, write_transaction
from archive.store.due import DueSide
from archive.store.links import LinkSide
from archive.store.lookups import LookupSide
from archive.store.maintenance import MaintenanceSide
from archive.store.problems import ProblemSide
from archive.store.runs import RunSide
from archive.store.seeds import IngestOutcome, SeedChange, SeedSide
from archive.store.snapshots import SnapshotSide
from archive.store.triage import TriageSide

T = TypeVar("T")


class Store(SeedSide, LinkSide, DueSide, CheckSide, ProblemSide, SnapshotSide, RunSide,
            MaintenanceSide, DaemonSide, TriageSide, LookupSide):
    """One SQLite file holding seeds, targets, links, checks, snapshots and runs.

    The methods live with their tables (seeds.py, links.py, due.py, checks.py,
    problems.py, snapshots.py, runs.py, maintenance.py, daemons.py, triage.py,
    lookups.py); rows go in and out as frozen
    dataclasses. Writes of a crawl batch go through `transaction`; the others are each
    their own transaction.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(open_database(path))
        self.path = path

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self, work: Callable[[], T]) -> T:
        """Run `work` (calls of this store's methods) as one write transaction."""
        return write_transaction(self.db, work)


__all__ = ["IngestOutcome", "SeedChange", "Store"]
