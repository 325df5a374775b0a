"""Opening the SQLite store: WAL, migrations, and retrying writes that meet a lock."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from sqlite_utils import Database
from tenacity import retry, retry_if_exception, stop_after_delay, wait_random_exponential

from archive.schema import migrations

T = TypeVar("T")


class StoreError(Exception):
    """The store cannot be opened or written; the message names the file and the cause."""


def _is_locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


# SQLite allows one writer. Another process holding the write lock longer than the busy
# timeout surfaces as "database is locked": wait and retry the whole transaction.
retry_locked = retry(
    retry=retry_if_exception(_is_locked),
    wait=wait_random_exponential(multiplier=0.05, max=2),
    stop=stop_after_delay(60),
    reraise=True,
)


def open_database(path: Path) -> Database:
    """Open (creating if needed) the store at `path`, in WAL mode, migrated to the latest."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=5.0, check_same_thread=False)
        db = Database(conn)
        _configure(db)
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
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_db(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
