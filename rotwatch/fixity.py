"""Fixity: every snapshot row's record is readable and matches its digest, every revisit's
original is stored, every WARC file is whole and named by some row.

`read_member` is also how an export copies a record: byte for byte, checked first.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

from archive.store import ArchivedSnapshot, Store
from archive.warc.writer import (
    OPEN_SUFFIX,
    WARC_SUFFIX,
    open_warc,
    payload_digest,
    scan_valid_records,
    writer_holds,
)


@dataclass(frozen=True)
class Problem:
    warc_file: str
    offset: int | None  # None: about the whole file
    message: str
    snapshot_id: int | None = None


@dataclass(frozen=True)
class VerifyResult:
    snapshots: int  # rows checked
    files: int  # files scanned
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


class RecordError(Exception):
    """The bytes at (file, offset) are not the record the store describes."""


class MissingFile(RecordError):
    """Neither the file a row names nor its `.open` form (still being written) exists."""


@dataclass(frozen=True)
class Member:
    """One record as stored: its gzip member's bytes and the headers an export needs."""

    data: bytes
    uri: str | None  # WARC-Target-URI
    date: str | None  # WARC-Date
    refers_to_uri: str | None  # a revisit's WARC-Refers-To-Target-URI


def read_member(warc_dir: Path, row: ArchivedSnapshot) -> Member:
    """The record's gzip member, checked against its row (type, length, CRC, digests)."""
    try:
        fh = open_warc(warc_dir, row.warc_file)
    except FileNotFoundError:
        raise MissingFile("file is missing") from None
    with fh:
        fh.seek(row.offset)
        data = fh.read(row.length)
    if len(data) != row.length:
        raise RecordError(f"file ends {row.length - len(data)} byte(s) early")
    try:
        # Exactly one whole member: proves the stored length and the gzip CRC.
        decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
        raw = decomp.decompress(data)
        if not decomp.eof or decomp.unused_data:
            raise RecordError("stored length does not match the gzip member")
    except zlib.error as exc:
        raise RecordError(f"unreadable: {exc}") from exc
    headers, block = _parse_record(raw)
    kind = headers.get("warc-type")
    if kind != row.record_type:
        raise RecordError(f"is a {kind} record, the store says {row.record_type}")
    if "warc-block-digest" in headers and _digest(headers["warc-block-digest"],
                                                  block) is False:
        raise RecordError("WARC-Block-Digest does not match the record's block")
    if headers.get("warc-payload-digest") != row.digest:
        raise RecordError("WARC-Payload-Digest differs from the store")
    # A revisit has no payload to hash; a response's bytes must hash to the digest.
    if row.record_type == "response":
        _, sep, payload = block.partition(b"\r\n\r\n")
        if not sep or payload_digest(payload) != row.digest:
            raise RecordError("payload does not match its digest")
    return Member(data, headers.get("warc-target-uri"), headers.get("warc-date"),
                  headers.get("warc-refers-to-target-uri"))


def _parse_record(raw: bytes) -> tuple[dict[str, str], bytes]:
    """WARC headers (names lower-cased) and the block of one uncompressed record.

    Parsed here rather than with warcio: verify and export read every record, and this
    is the part of warcio's work they need (about ten times less time per record).
    """
    head, sep, rest = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not sep or not lines[0].startswith(b"WARC/"):
        raise RecordError("no WARC record at this offset")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if colon:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode(
                "utf-8", "replace")
    try:
        length = int(headers.get("content-length", ""))
    except ValueError:
        raise RecordError("no valid Content-Length in the WARC headers") from None
    if len(rest) != length + 4 or rest[length:] != b"\r\n\r\n":
        raise RecordError("record block does not match its Content-Length")
    return headers, rest[:length]


def _digest(label: str, data: bytes) -> bool | None:
    """Whether `data` matches a WARC digest ("sha1:BASE32" or hex); None: unknown algorithm."""
    algorithm, _, value = label.partition(":")
    try:
        digest = hashlib.new(algorithm.lower(), data).digest()
    except ValueError:
        return None
    return value.upper() in (base64.b32encode(digest).decode("ascii"), digest.hex().upper())


def verify(store: Store, warc_dir: Path) -> VerifyResult:
    """Fixity: every snapshot row's record is where the store says and matches its digest,
    every revisit's original response is stored, and every WARC file in `warc_dir` is
    whole (no cut record, no trailing garbage) and named by at least one row.

    Files still named `.open` are checked too: a live writer's (the end it is appending
    may be half written, so only its whole records count) and a crashed writer's (its cut
    end is a problem until `check` or the verify command recovers it).
    """
    problems: list[Problem] = []
    rows = store.all_snapshots()
    missing: set[str] = set()
    for row in rows:
        if row.warc_file in missing:
            continue  # one problem per file, not one per row
        try:
            member = read_member(warc_dir, row)
        except MissingFile:
            missing.add(row.warc_file)
            continue
        except RecordError as exc:
            problems.append(Problem(row.warc_file, row.offset, str(exc), row.id))
            continue
        if row.record_type == "revisit" and store.response_for(
                row.digest, member.refers_to_uri) is None:
            # An export (or a replay tool) could not show this capture: the bytes it
            # stands for are in no stored response.
            problems.append(Problem(row.warc_file, row.offset,
                                    f"revisit of {member.refers_to_uri}: the response it "
                                    "refers to is not stored", row.id))
    for name in sorted(missing):
        count = sum(r.warc_file == name for r in rows)
        problems.append(Problem(name, None, f"file is missing ({count} snapshot(s) in it)"))
    if not warc_dir.is_dir():
        return VerifyResult(len(rows), 0, tuple(problems))
    files = 0
    finished = {p.name for p in warc_dir.glob(f"*{WARC_SUFFIX}")}
    named = {r.warc_file for r in rows}
    for name in sorted(finished):
        files += _scan_file(warc_dir / name, problems)
        if name not in named:
            problems.append(Problem(name, None, "no snapshot row names this file (an "
                                    "interrupted run leaves one when it is killed before "
                                    "recording its checks): its records are in no export"))
    for path in sorted(warc_dir.glob(f"*{WARC_SUFFIX}{OPEN_SUFFIX}")):
        scanned = _scan_file(path, problems)
        final = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
        if not scanned and final.name not in finished:
            scanned = _scan_file(final, problems)  # closed since the listing: check it now
        files += scanned
    return VerifyResult(len(rows), files, tuple(problems))


def _scan_file(path: Path, problems: list[Problem]) -> int:
    """Check that one file is whole; 1 when it was scanned, 0 when it is gone."""
    live = path.name.endswith(OPEN_SUFFIX) and writer_holds(path)
    try:
        records, valid = scan_valid_records(path)
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    except OSError as exc:
        problems.append(Problem(path.name, None, f"unreadable: {exc}"))
        return 1
    if valid < size and not live:
        what = "corrupt or garbage"
        if path.name.endswith(OPEN_SUFFIX):
            what = ("left by an interrupted run; the next check (or verify, when no check "
                    "is running) recovers it")
        problems.append(Problem(path.name, valid, f"{size - valid} byte(s) after the last "
                                f"intact record ({records} intact): {what}"))
    return 1
