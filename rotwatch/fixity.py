"""Fixity: every snapshot row's record is readable and matches its digest, every revisit's
original is stored, every WARC file is whole and named by some row.

`read_member` is also how an export copies a record: byte for byte, checked first. Records
are parsed and their digests checked by warcio, the project's WARC library.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warcio.digestverifyingreader import DigestVerifyingReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecordLoader

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


class _Loader(ArcWarcRecordLoader):
    """warcio's record loader, also checking a revisit's WARC-Block-Digest.

    warcio checks neither digest of a revisit (its payload digest names the original's
    payload); the block digest still covers the revisit's own bytes, so it is checked too.
    """

    def wrap_digest_verifying_stream(self, stream: Any, rec_type: str, rec_headers: Any,
                                     digest_checker: Any, length: int | None = None
                                     ) -> tuple[Any, bool]:
        if rec_type != "revisit":
            return super().wrap_digest_verifying_stream(
                stream, rec_type, rec_headers, digest_checker, length=length)
        block = rec_headers.get_header("WARC-Block-Digest")
        if not block:
            return stream, False
        return DigestVerifyingReader(stream, length, digest_checker, block_digest=block), True


_LOADER = _Loader(verify_http=False)


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
    # warcio parses the inflated bytes: handing it the member would inflate it again.
    stream = io.BytesIO(raw)
    try:
        record = _LOADER.parse_record_stream(stream, known_format="warc",
                                             check_digests=True)
        payload = record.raw_stream.read()  # reading to the end runs the digest checks
    except EOFError:
        raise RecordError("no WARC record at this offset") from None
    except (ArchiveLoadFailed, ValueError) as exc:  # ValueError: a malformed digest value
        raise RecordError(f"unreadable: {exc}") from exc
    except Exception as exc:
        # (e.g. AttributeError when WARC-Target-URI is missing): still a damaged record.
        raise RecordError(f"unreadable: {type(exc).__name__}: {exc}") from exc
    headers = record.rec_headers
    if not _is_length(headers.get_header("Content-Length")):
        raise RecordError("no valid Content-Length in the WARC headers")
    if raw[stream.tell():] != b"\r\n\r\n":  # a short block leaves nothing after it
        raise RecordError("record block does not match its Content-Length")
    if record.rec_type is None:
        raise RecordError("the record has no WARC-Type")
    if record.rec_type != row.record_type:
        raise RecordError(f"is a {record.rec_type} record, the store says {row.record_type}")
    if record.digest_checker.passed is False:
        raise RecordError("; ".join(record.digest_checker.problems))
    if headers.get_header("WARC-Payload-Digest") != row.digest:
        raise RecordError("WARC-Payload-Digest differs from the store")
    # A revisit has no payload to hash; a response's bytes must hash to the digest (as
    # the store computes it: warcio skips the payload check of a segmented record).
    if row.record_type == "response" and payload_digest(payload) != row.digest:
        raise RecordError("payload does not match its digest")
    return Member(data, headers.get_header("WARC-Target-URI"),
                  headers.get_header("WARC-Date"),
                  headers.get_header("WARC-Refers-To-Target-URI"))


def _is_length(value: str | None) -> bool:
    """Whether a Content-Length value is a whole number of bytes (warcio reads a bad one
    as 0, or a missing one as "to the end")."""
    return value is not None and value.strip().isascii() and value.strip().isdigit()


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
