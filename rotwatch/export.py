"""Snapshot archives out of the store, and fixity checks of the WARC files it points at.

`export_warc` gathers the latest snapshot record of each selected target (plus, for a
revisit, the response it refers to) into one `.warc.gz`. Records are copied byte for
byte, one gzip member each: re-serialising them could change header bytes and break
their WARC-Block-Digest, and a copy is what makes the export evidence. Each record is
first read back with warcio to make sure it is the record the store says it is.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from archive.store import ArchivedSnapshot, Store
from archive.warc.atomic import atomic_output
from archive.warc.writer import (
    OPEN_SUFFIX,
    WARC_SUFFIX,
    open_warc,
    payload_digest,
    scan_valid_records,
    writer_holds,
)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    records: int  # response/revisit records written (warcinfo not counted)
    targets: int
    uris: tuple[str, ...]  # WARC-Target-URI of each record, in file order
    originals: int  # responses added because a revisit refers to them
    problems: tuple[str, ...]  # records that could not be exported, and why


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


def read_member(warc_dir: Path, row: ArchivedSnapshot) -> tuple[bytes, str | None]:
    """The record's gzip member, checked against its row: (raw bytes, WARC-Target-URI)."""
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
        decomp.decompress(data)
        if not decomp.eof or decomp.unused_data:
            raise RecordError("stored length does not match the gzip member")
        it = ArchiveIterator(io.BytesIO(data), check_digests=True)
        record = next(iter(it), None)
        if record is None:
            raise RecordError("no record at this offset")
        payload = record.raw_stream.read()
    except RecordError:
        raise
    except Exception as exc:  # zlib, warcio and header parsing all raise their own kinds
        raise RecordError(f"unreadable: {exc}") from exc
    rec = record.rec_headers
    if record.rec_type != row.record_type:
        raise RecordError(f"is a {record.rec_type} record, the store says {row.record_type}")
    if record.digest_checker.passed is False:
        raise RecordError("; ".join(record.digest_checker.problems))
    if rec.get_header("WARC-Payload-Digest") != row.digest:
        raise RecordError("WARC-Payload-Digest differs from the store")
    # A revisit has no payload to hash; a response's bytes must hash to the digest.
    if row.record_type == "response" and payload_digest(payload) != row.digest:
        raise RecordError("payload does not match its digest")
    return data, rec.get_header("WARC-Target-URI")


def _original(store: Store, warc_dir: Path, revisit: ArchivedSnapshot
              ) -> ArchivedSnapshot | None:
    """The response record a revisit stands for: same payload, preferably the same URI."""
    with open_warc(warc_dir, revisit.warc_file) as fh:
        fh.seek(revisit.offset)
        record = next(iter(ArchiveIterator(fh)))
        uri = record.rec_headers.get_header("WARC-Refers-To-Target-URI")
    return store.response_for(revisit.digest, uri)


def export_warc(store: Store, warc_dir: Path, out_path: Path, *, seeds: tuple[str, ...] = (),
                since: datetime | None = None) -> ExportResult:
    """Write the latest snapshot of each selected target to `out_path` (a `.warc.gz`).

    `seeds` selects targets cited by seeds whose path contains any of the texts; `since`
    keeps only targets whose latest snapshot was taken at or after it. The file is written
    through `archive.warc.atomic`: a failed export (a full disk: `OutputError`, naming the file)
    leaves no half file and whatever `out_path` held before.
    """
    latest = store.latest_snapshots(tuple(seeds), since)
    wanted: list[ArchivedSnapshot] = []
    problems: list[str] = []
    originals = 0
    for row in latest:
        if row.record_type == "revisit":
            try:
                original = _original(store, warc_dir, row)
            except Exception as exc:  # the revisit itself is unreadable: reported below
                problems.append(f"{row.url}: cannot read revisit: {exc}")
                continue
            if original is None:
                problems.append(f"{row.url}: the response its revisit refers to is not stored")
            elif original.id not in {w.id for w in wanted} | {x.id for x in latest}:
                wanted.append(original)
                originals += 1
        wanted.append(row)
    uris: list[str] = []
    with atomic_output(out_path) as out:
        writer = WARCWriter(out, gzip=True, warc_version="1.1")
        writer.write_record(writer.create_warcinfo_record(out_path.name, {
            "software": "rotwatch export", "format": "WARC File Format 1.1",
            "description": f"latest snapshots of {len(latest)} target(s)"}))
        for row in wanted:
            try:
                data, uri = read_member(warc_dir, row)
            except RecordError as exc:
                problems.append(f"{row.url} ({row.warc_file}@{row.offset}): {exc}")
                continue
            out.write(data)
            uris.append(uri or row.url)
    return ExportResult(out_path, len(uris), len(latest), tuple(uris), originals,
                        tuple(problems))


def verify(store: Store, warc_dir: Path) -> VerifyResult:
    """Fixity: every snapshot row's record is where the store says and matches its digest;
    every WARC file in `warc_dir` is whole (no cut record, no trailing garbage).

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
            read_member(warc_dir, row)
        except MissingFile:
            missing.add(row.warc_file)
        except RecordError as exc:
            problems.append(Problem(row.warc_file, row.offset, str(exc), row.id))
    for name in sorted(missing):
        count = sum(r.warc_file == name for r in rows)
        problems.append(Problem(name, None, f"file is missing ({count} snapshot(s) in it)"))
    if not warc_dir.is_dir():
        return VerifyResult(len(rows), 0, tuple(problems))
    files = 0
    finished = {p.name for p in warc_dir.glob(f"*{WARC_SUFFIX}")}
    for name in sorted(finished):
        files += _scan_file(warc_dir / name, problems)
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
