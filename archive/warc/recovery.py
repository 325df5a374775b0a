"""Crash recovery and verification for rotwatch's gzipped WARC files.

A writer names its file `<name>.warc.gz.open` while it appends to it and renames it on
close; a file still called `.open` when no writer holds it was left by a crash
(`writer_holds` tells which). `recover_open_files` cuts such a file after its last intact
record and gives it its final name. `scan_valid_records` is the check behind both
recovery and a verify command.
Format assumed: gzipped WARC, exactly one gzip member per record (what `archive.warc.writer`
writes, and what random access by offset needs anyway).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

try:  # fcntl is POSIX-only; without it we cannot tell a live writer's file from a dead one.
    import fcntl
except ImportError:  # pragma: no cover - rotwatch runs on Linux
    fcntl = None  # type: ignore[assignment]

LOGGER = logging.getLogger(__name__)

WARC_SUFFIX: Final = ".warc.gz"
OPEN_SUFFIX: Final = ".open"
PARTIAL_SUFFIX: Final = ".partial"

# Bytes read from a WARC file at a time while scanning or copying it.
_CHUNK: Final = 1 << 20
# A WARC header block is a few hundred bytes; anything far bigger is garbage, not a record.
_MAX_WARC_HEAD: Final = 1 << 20


# --------------------------------------------------------------------------- verify


class _RecordCheck:
    """Incrementally validates the decompressed bytes of one gzip member.

    Valid means: a WARC/x.y header block, a Content-Length block of exactly that many
    bytes (matching WARC-Block-Digest when present), then exactly CRLF CRLF. Streaming,
    so a 1 GB record never has to sit in memory.
    """

    def __init__(self) -> None:
        self._head = bytearray()
        self._state = "head"
        self._remaining = 0
        self._tail = bytearray()
        self._digest: hashlib._Hash | None = None
        self._expected: bytes | None = None
        self.failed = False

    def feed(self, data: bytes) -> None:
        if self.failed or not data:
            return
        if self._state == "head":
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                self.failed = len(self._head) > _MAX_WARC_HEAD
                return
            rest = bytes(self._head[end + 4 :])
            if not self._parse_head(bytes(self._head[:end])):
                self.failed = True
                return
            self._state = "block"
            data = rest
        if self._state == "block":
            take = data[: self._remaining]
            if self._digest is not None:
                self._digest.update(take)
            self._remaining -= len(take)
            data = data[len(take) :]
            if self._remaining == 0:
                self._state = "tail"
        if self._state == "tail" and data:
            self._tail += data
            self.failed = not b"\r\n\r\n".startswith(bytes(self._tail))

    def _parse_head(self, head: bytes) -> bool:
        lines = head.split(b"\r\n")
        if not lines[0].startswith(b"WARC/"):
            return False
        fields: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if sep:
                fields[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
        try:
            self._remaining = int(fields["content-length"])
        except (KeyError, ValueError):
            return False
        if self._remaining < 0:
            return False
        digest = fields.get("warc-block-digest")
        if digest:
            algo, _, encoded = digest.partition(":")
            try:
                self._digest = hashlib.new(algo.lower().replace("-", ""))
            except ValueError:
                return True  # an algorithm we lack: cannot check, not evidence of damage
            self._expected = _decode_digest_value(encoded)
            if self._expected is None:
                return False
        return True

    def complete(self) -> bool:
        if self.failed or self._state != "tail" or bytes(self._tail) != b"\r\n\r\n":
            return False
        if self._digest is not None and self._expected is not None:
            return self._digest.digest() == self._expected
        return True


def _decode_digest_value(value: str) -> bytes | None:
    # WARC writers use base32 (as we do) or hex; accept both.
    for decode in (base64.b32decode, base64.b16decode):
        try:
            return decode(value.upper())
        except (binascii.Error, ValueError):
            continue
    return None


def scan_valid_records(path: Path, *, chunk_size: int = _CHUNK) -> tuple[int, int]:
    """Count the complete, intact records at the start of a gzipped WARC file.

    Returns (records, valid byte length): the file's first `valid byte length` bytes are
    whole gzip members, each one complete WARC record whose block digest checks out.
    Scanning stops at the first member that is cut short, corrupt or not a WARC record.
    The file is read `chunk_size` bytes at a time; the result does not depend on it.
    """
    records = valid = 0
    with open(path, "rb") as fh:
        chunk_start = 0  # absolute offset of `chunk` in the file
        chunk = fh.read(chunk_size)
        member_start = 0
        decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
        check = _RecordCheck()
        while chunk:
            try:
                check.feed(decomp.decompress(chunk))
            except zlib.error:
                break  # corrupt deflate stream or gzip CRC mismatch: nothing past here counts
            if check.failed:
                break
            if not decomp.eof:
                chunk_start += len(chunk)
                chunk = fh.read(chunk_size)
                continue
            unused = decomp.unused_data
            member_end = chunk_start + len(chunk) - len(unused)
            if not check.complete() or member_end == member_start:
                break
            records += 1
            valid = member_start = member_end
            decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
            check = _RecordCheck()
            chunk_start = member_end
            chunk = unused or fh.read(chunk_size)
    return records, valid


# --------------------------------------------------------------------------- recover


@dataclass(frozen=True)
class RecoveryReport:
    """What `recover_open_files` did with one leftover `.open` file.

    `warc_file` is None when not one record survived (the empty file is then removed);
    `partial_file` is None when nothing had to be cut.
    """

    open_file: str
    warc_file: str | None
    records_kept: int
    bytes_dropped: int
    partial_file: str | None


def recover_open_files(directory: Path) -> list[RecoveryReport]:
    """Finish every `*.warc.gz.open` a dead writer left behind in `directory`.

    Each file is cut after its last complete record; the cut bytes go to
    `<final name>.partial` so nothing is destroyed, then the file gets its final name.
    Files still locked by a live writer (any process) are left alone.
    """
    reports = []
    for path in sorted(directory.glob(f"*{WARC_SUFFIX}{OPEN_SUFFIX}")):
        report = _recover_one(path)
        if report is not None:
            reports.append(report)
    return reports


def _recover_one(path: Path) -> RecoveryReport | None:
    final = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
    try:
        fh = open(path, "r+b")  # noqa: SIM115 - closed by the `with` below
    except FileNotFoundError:
        return None  # renamed by its writer or another recovery since the directory listing
    with fh:
        if fcntl is not None:
            try:
                # The writer holds this lock for the file's life; the kernel drops it when
                # the writer dies, even by SIGKILL, so a held lock means "still being written".
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                LOGGER.info("%s is in use by a running writer; not recovering it", path.name)
                return None
        if not _same_file(fh, path):
            return None  # another recovery finished it between our open and our lock
        if os.fstat(fh.fileno()).st_size == 0 and _pid_alive(path.name):
            # A writer creates its file, then locks it: an empty file of a live process
            # may be in that gap. Left alone; a dead process's empty file is cleaned up.
            return None
        if final.exists():  # checked before touching anything: never clobber a WARC
            raise FileExistsError(f"cannot recover {path.name}: {final.name} exists")
        records, valid = scan_valid_records(path)
        size = os.fstat(fh.fileno()).st_size
        partial: Path | None = None
        if size > valid:
            partial = final.with_name(final.name + PARTIAL_SUFFIX)
            fh.seek(valid)
            # A `.partial` here can only be left by a recovery of this same file killed
            # before its truncation: a prefix of these same bytes, still all in `path`.
            # Rewriting it loses nothing; refusing would stop every later run.
            with open(partial, "wb") as out:
                while block := fh.read(_CHUNK):
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            fh.truncate(valid)
        fh.flush()
        os.fsync(fh.fileno())
        if valid == 0:
            path.unlink()
            warc_name = None
        else:
            path.rename(final)
            warc_name = final.name
    LOGGER.warning(
        "recovered %s: kept %d records, dropped %d bytes", path.name, records, size - valid
    )
    return RecoveryReport(
        open_file=path.name,
        warc_file=warc_name,
        records_kept=records,
        bytes_dropped=size - valid,
        partial_file=partial.name if partial else None,
    )


def writer_holds(path: Path) -> bool:
    """Whether a live writer is still appending to the `.open` file `path`.

    Its flock says so; an empty file of a running process counts too (a writer creates its
    file, then locks it). A file that is gone counts as not held.
    """
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the `with` below
    except FileNotFoundError:
        return False
    with fh:
        if fcntl is not None:
            try:
                # Shared and released at once: never in a writer's way (it already holds
                # its exclusive lock), only in a concurrent recovery's, which then retries
                # at the next run.
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return os.fstat(fh.fileno()).st_size == 0 and _pid_alive(path.name)


def _same_file(fh: BinaryIO, path: Path) -> bool:
    try:
        on_disk = path.stat()
    except FileNotFoundError:
        return False
    mine = os.fstat(fh.fileno())
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _pid_alive(name: str) -> bool:
    """Whether the pid in `<prefix>-<time>-<serial>-<pid>.warc.gz.open` is running."""
    try:
        pid = int(name.removesuffix(WARC_SUFFIX + OPEN_SUFFIX).rsplit("-", 1)[1])
        os.kill(pid, 0)
    except (IndexError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
