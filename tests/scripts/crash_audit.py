"""After a crash: SIGKILL a whole process tree at one instant, then audit the store and WARCs.

Used by tests/scripts/kill_anywhere.py. The audit checks what a kill must never break:
SQLite's own integrity, rows committed before the crash, and every snapshot row's record
(read back with warcio at its offset, in its final file or in the `.open` file a killed
writer left).
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from archive.warc.writer import OPEN_SUFFIX, read_response
from tests.helpers import query


def kill_tree(pid: int) -> int:
    """SIGKILL a process and every descendant at one moment; returns how many died.

    Crawl processes leave the parent's process group (so Ctrl-C reaches only the parent)
    and get SIGTERM when it dies: killing the group, or the parent first, would let them
    close cleanly. So the tree is frozen first (SIGSTOP, repeated until no new process
    appears), then every frozen process is killed: the state on disk is the state of that
    one instant, as after an OOM kill of the whole service or a power cut of the machine
    (minus the page cache, which a process kill keeps).
    """
    try:
        root = psutil.Process(pid)
        root.suspend()
    except psutil.NoSuchProcess:
        return 0
    frozen = {root}
    for _ in range(20):  # each pass catches processes started during the previous one
        try:
            found = set(root.children(recursive=True)) - frozen
        except psutil.NoSuchProcess:
            break
        if not found:
            break
        for proc in found:
            try:
                proc.suspend()
            except psutil.NoSuchProcess:
                continue
        frozen |= found
    for proc in frozen:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(list(frozen), timeout=30)
    if alive:
        raise RuntimeError(f"processes survived SIGKILL: {[p.pid for p in alive]}")
    return len(frozen)


def _digest_of_rows(data: Path, table: str, max_id: int) -> str:
    # A snapshot's main text (and its hash, written with it: migration m009) may be
    # filled in later, once, from NULL (text is extracted only when a comparison needs
    # it, rotwatch/lazy_text.py), so they are left out of the hash; every other column of
    # every committed row still must not change.
    rows = query(data, f"SELECT * FROM {table} WHERE id <= ? ORDER BY id", max_id)
    if table == "snapshots":
        rows = [_without_late_text(data, row) for row in rows]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


_SNAPSHOT_COLUMNS: list[str] = []


def _without_late_text(data: Path, row: tuple[object, ...]) -> tuple[object, ...]:
    if not _SNAPSHOT_COLUMNS:
        _SNAPSHOT_COLUMNS.extend(r[1] for r in query(data, "PRAGMA table_info(snapshots)"))
    late = {_SNAPSHOT_COLUMNS.index(c) for c in ("text", "text_hash") if c in _SNAPSHOT_COLUMNS}
    return tuple(None if i in late else value for i, value in enumerate(row))


@dataclass
class Auditor:
    """What was committed before a round, and which snapshot rows are proven readable."""

    data: Path
    proven: set[int] = field(default_factory=set)  # rows read back from a final-named file

    def committed(self) -> dict[str, tuple[int, int, str]]:
        found = {}
        for table in ("checks", "snapshots"):
            count, max_id = query(self.data, f"SELECT count(*), coalesce(max(id), 0) "
                                             f"FROM {table}")[0]
            found[table] = (count, max_id, _digest_of_rows(self.data, table, max_id))
        return found

    def store_problems(self, before: dict[str, tuple[int, int, str]]) -> list[str]:
        problems = []
        conn = sqlite3.connect(self.data / "rotwatch.db")
        try:
            integrity = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
            keys = conn.execute("PRAGMA foreign_key_check").fetchall()
        finally:
            conn.close()
        if integrity != ["ok"]:
            problems.append(f"integrity_check: {integrity[:5]}")
        if keys:
            problems.append(f"foreign_key_check: {keys[:5]}")
        for table, (count, max_id, digest) in before.items():
            now_count = query(self.data, f"SELECT count(*) FROM {table} WHERE id <= ?",
                              max_id)[0][0]
            if now_count != count or _digest_of_rows(self.data, table, max_id) != digest:
                problems.append(f"{table}: rows committed before the run changed or went "
                                f"missing ({count} before, {now_count} now)")
        return problems

    def snapshot_problems(self) -> tuple[list[str], int]:
        """Read back every snapshot row not yet proven; returns problems and rows in .open."""
        warcs = self.data / "warcs"
        rows = query(self.data, "SELECT id, url, warc_file, warc_offset, record_type, "
                                "payload_digest FROM snapshots ORDER BY id")
        problems: list[str] = []
        in_open = 0
        for sid, url, name, offset, record_type, digest in rows:
            if sid in self.proven:
                continue
            final = (warcs / name).is_file()
            if not final:
                if not (warcs / (name + OPEN_SUFFIX)).is_file():
                    problems.append(f"snapshot {sid}: {name} is missing (no .open file either)")
                    continue
                in_open += 1
            try:
                stored = read_response(warcs, name if final else name + OPEN_SUFFIX, offset)
            except Exception as exc:  # any failure to read is the finding
                problems.append(f"snapshot {sid}: {name}@{offset}: {type(exc).__name__}: {exc}")
                continue
            got = (stored.url, stored.record_type, stored.payload_digest)
            if got != (url, record_type, digest):
                problems.append(f"snapshot {sid}: {name}@{offset} holds {got}, row says "
                                f"{(url, record_type, digest)}")
            elif final:
                self.proven.add(sid)  # a closed file is never written again
        return problems, in_open
