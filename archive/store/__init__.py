"""The SQLite store: one API object, `Store`, with typed rows in and out."""

from archive.store.checks import CheckRow, SnapshotRow, TargetUpdate
from archive.store.daemons import DaemonJobRow, DaemonRow
from archive.store.db import StoreBusyError, StoreError
from archive.store.due import Selection
from archive.store.links import LinkRow
from archive.store.lookups import ArchivedCopy, Lookup
from archive.store.problems import ProblemLink, SnapshotRef
from archive.store.runs import RunRow
from archive.store.seeds import IngestOutcome, SeedChange
from archive.store.snapshots import ArchivedSnapshot, ExportFilter, SeedPage
from archive.store.store import Store
from archive.store.triage import MarkRecord, UnknownLink

__all__ = ["ArchivedCopy", "ArchivedSnapshot", "CheckRow", "DaemonJobRow", "DaemonRow",
           "ExportFilter", "IngestOutcome", "LinkRow", "Lookup", "MarkRecord", "ProblemLink",
           "RunRow", "SeedChange", "SeedPage", "Selection", "SnapshotRef", "SnapshotRow",
           "Store", "StoreBusyError", "StoreError", "TargetUpdate", "UnknownLink"]
