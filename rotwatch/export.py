"""Snapshot archives out of the store: the selected records copied into one `.warc.gz`.

`export_warc` streams the selected captures (by default the latest good capture of each
target; `all_captures`: every record) plus, for each revisit, the response it refers to.
Records are copied byte for byte, one gzip member each: re-serialising them could change
header bytes and break their WARC-Block-Digest, and a copy is what makes the export
evidence. Each record is first read back and checked (rotwatch.fixity.read_member).
The WACZ packaging around such a WARC is rotwatch/export_wacz.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from warcio.warcwriter import WARCWriter

from archive.store import ArchivedSnapshot, ExportFilter, Store
from archive.warc.atomic import atomic_output
from rotwatch import __version__
from rotwatch.fixity import Member, RecordError, read_member
from rotwatch.fixity import verify as verify  # the fixity check, re-exported for callers


class EmptySelection(Exception):
    """No capture matches the export's filters: nothing is written."""


class ExportFailed(Exception):
    """A selected record cannot be exported (run `rotwatch verify`); nothing is written."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    records: int  # response/revisit records written (warcinfo not counted)
    targets: int
    uris: tuple[str, ...]  # WARC-Target-URI of each record, in file order
    originals: int  # responses added because a revisit refers to them
    problems: tuple[str, ...] = ()  # kept for callers; an export with problems raises


@dataclass(frozen=True)
class Exported:
    """One record as it goes into an export, and where it landed in the export's WARC."""

    row: ArchivedSnapshot
    member: Member
    offset: int
    original: bool  # added only because a revisit refers to it


def selected_records(store: Store, warc_dir: Path, selection: ExportFilter
                     ) -> Iterator[tuple[ArchivedSnapshot, Member, bool]]:
    """The selected records, each revisit preceded by its original (once), checked.

    Streams: one row and one record in memory at a time, plus the ids already written
    (so a shared original goes in once). Raises `ExportFailed` on the first record that
    cannot be read, `EmptySelection` when nothing matches.
    """
    written: set[int] = set()
    empty = True
    for row in store.export_snapshots(selection):
        empty = False
        if row.id in written:
            continue
        member = _read(warc_dir, row)
        if row.record_type == "revisit":
            original = store.response_for(row.digest, member.refers_to_uri)
            if original is None:
                raise ExportFailed(f"{row.url} ({row.warc_file}@{row.offset}): the response "
                                   "its revisit refers to is not stored; run rotwatch verify")
            if original.id not in written:
                written.add(original.id)
                yield original, _read(warc_dir, original), True
        written.add(row.id)
        yield row, member, False
    if empty:
        raise EmptySelection("nothing to export: no capture matches the selection")


def _read(warc_dir: Path, row: ArchivedSnapshot) -> Member:
    try:
        return read_member(warc_dir, row)
    except RecordError as exc:
        raise ExportFailed(f"{row.url} ({row.warc_file}@{row.offset}): {exc}; run rotwatch "
                           "verify") from exc


def write_records(out: BinaryIO, name: str, description: str,
                  records: Iterator[tuple[ArchivedSnapshot, Member, bool]],
                  metadata: dict[str, str] | None = None) -> Iterator[Exported]:
    """Write a warcinfo record, then each record's member; yields each with its offset."""
    writer = WARCWriter(out, gzip=True, warc_version="1.1")
    writer.write_record(writer.create_warcinfo_record(name, {
        "software": f"rotwatch {__version__} export", "format": "WARC File Format 1.1",
        "description": description, **(metadata or {})}))
    for row, member, original in records:
        offset = out.tell()
        out.write(member.data)
        yield Exported(row, member, offset, original)


def export_warc(store: Store, warc_dir: Path, out_path: Path, *, seeds: tuple[str, ...] = (),
                since: datetime | None = None, selection: ExportFilter | None = None,
                on_record: Callable[[Exported], None] | None = None) -> ExportResult:
    """Write the selected captures to `out_path` (a `.warc.gz`), atomically.

    `selection` (or, for older callers, `seeds` and `since`) picks the captures. Nothing
    is written under `out_path` unless the whole export succeeds: `EmptySelection` and
    `ExportFailed` leave it as it was, and so does an `OutputError` (a full disk).
    """
    if selection is None:
        selection = ExportFilter(tuple(seeds), since)
    records = selected_records(store, warc_dir, selection)
    first = next(records)  # EmptySelection before any file is created

    def chained() -> Iterator[tuple[ArchivedSnapshot, Member, bool]]:
        yield first
        yield from records

    uris: list[str] = []
    targets: set[int] = set()
    originals = 0
    with atomic_output(out_path) as out:
        for item in write_records(out, out_path.name, _describe(selection), chained()):
            uris.append(item.member.uri or item.row.url)
            targets.add(item.row.target_id)
            originals += item.original
            if on_record is not None:
                on_record(item)
    return ExportResult(out_path, len(uris), len(targets), tuple(uris), originals)


def _describe(selection: ExportFilter) -> str:
    what = ("every capture" if selection.all_captures
            else "the latest good capture") + " of each selected target"
    parts = [what]
    if selection.seeds:
        parts.append("seeds matching " + ", ".join(selection.seeds))
    if selection.states:
        parts.append("states " + ", ".join(selection.states))
    if selection.since:
        parts.append(f"since {selection.since.isoformat()}")
    if selection.until:
        parts.append(f"until {selection.until.isoformat()}")
    return "; ".join(parts) + " (with the originals of its revisits)"
