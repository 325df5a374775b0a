"""Opening the SQLite store: WAL, migrations, and retrying writes that meet a lock."""

from __future__ import annotations

import functools
import math
import os
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

from sqlite_utils import Database
from tenacity import Retrying, retry_if_exception, stop_before_delay, wait_random_exponential

from archive.store.schema import migrations

T = TypeVar("T")
P = ParamSpec("P")

# How long a write waits for another connection's write lock before giving up, in total.
# Normal transactions hold it for milliseconds; 30 s rides out a large ingest batch or a
# checkpoint, and a person at a terminal is not left waiting a minute in silence.
BUSY_TIMEOUT_ENV = "ROTWATCH_BUSY_TIMEOUT"
DEFAULT_BUSY_TIMEOUT = 30.0
MAX_BUSY_TIMEOUT = 3600.0
# SQLite's own busy handler waits at most this long per attempt; between attempts the
# whole transaction is retried (a WAL snapshot that went stale is not waited out in C).
_ATTEMPT_TIMEOUT = 2.0


class StoreError(Exception):
    """The store cannot be opened or written; the message names the file and the cause."""


class StoreBusyError(StoreError):
    """Another connection held the store's write lock for the whole busy wait (exit 3)."""


class Tables:
    """What every part of the store API holds: one open connection (see `Store`)."""

    def __init__(self, db: Database) -> None:
        self.db = db


def busy_timeout() -> float:
    """The total wait for a write lock: $ROTWATCH_BUSY_TIMEOUT seconds, default 30."""
    raw = os.environ.get(BUSY_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_BUSY_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_BUSY_TIMEOUT:  # nan is never in range
        raise StoreError(f"${BUSY_TIMEOUT_ENV} must be a number of seconds in "
                         f"(0, {MAX_BUSY_TIMEOUT:g}], got {raw!r}")
    return value


def _is_locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


def retry_locked(work: Callable[P, T]) -> Callable[P, T]:
    """Run `work`, retried as a whole while SQLite says "database is locked", for at most
    busy_timeout() seconds in total (read at each call); then the last error is raised.

    SQLite allows one writer. Another process holding the write lock longer than one
    attempt's busy wait surfaces as "database is locked": wait and retry.
    """

    @functools.wraps(work)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        budget = busy_timeout()
        retrying = Retrying(
            retry=retry_if_exception(_is_locked),
            wait=wait_random_exponential(multiplier=0.05, max=2),
            # No attempt starts that could end past the budget: the last one may itself
            # wait up to _ATTEMPT_TIMEOUT inside SQLite.
            stop=stop_before_delay(max(budget - _ATTEMPT_TIMEOUT, 0.0)),
            reraise=True,
        )
        return retrying(work, *args, **kwargs)

    return wrapper


def _busy(path: object, budget: float) -> StoreBusyError:
    return StoreBusyError(
        f"the store {path} is busy: another process kept its write lock for the whole "
        f"{budget:g} s wait (${BUSY_TIMEOUT_ENV} sets it); nothing was written, everything "
        "recorded before is intact; try again later")


def open_database(path: Path) -> Database:
    """Open (creating if needed) the store at `path`, in WAL mode, migrated to the latest."""
    budget = busy_timeout()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=min(_ATTEMPT_TIMEOUT, budget),
                               check_same_thread=False)
        db = Database(conn)
        _configure(db)
    except sqlite3.OperationalError as exc:
        if _is_locked(exc):
            raise _busy(path, budget) from None
        raise StoreError(f"cannot open store {path}: {exc}") from exc
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open store {path}: {exc}") from exc
    return db


@retry_locked
def _configure(db: Database) -> None:
    if db.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        db.enable_wal()
    db.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses no committed txn
    db.execute("PRAGMA foreign_keys=ON")
    migrations.apply(db)


def write_transaction(db: Database, work: Callable[[], T]) -> T:
    """Run `work` inside BEGIN IMMEDIATE … COMMIT, retried as a whole while locked.

    BEGIN IMMEDIATE takes the write lock up front, so two writers never deadlock on a
    read-to-write upgrade. A failure rolls everything back: nothing is half-written.
    """

    @retry_locked
    def attempt() -> T:
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            result = work()
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")
        return result

    try:
        return attempt()
    except sqlite3.OperationalError as exc:
        if _is_locked(exc):
            raise _busy(_filename(db), busy_timeout()) from None
        if "disk" in str(exc) or "full" in str(exc):
            raise StoreError(f"cannot write to store {_filename(db)} ({exc}; the disk may be "
                             "full): this batch was rolled back, everything recorded before "
                             "it is intact") from exc
        raise


def _filename(db: Database) -> str:
    try:
        return str(db.conn.execute("PRAGMA database_list").fetchone()[2])
    except sqlite3.Error:
        return "(unknown)"


def to_db(moment: datetime | None) -> str | None:
    """Times are stored as ISO 8601 UTC with seconds, so text order is time order."""
    if moment is None:
        return None
    if moment.tzinfo is UTC:  # most are: converting would make a copy only
        return moment.isoformat(timespec="seconds")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_db(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
