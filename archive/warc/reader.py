"""Reading rotwatch's WARC files back: one response by offset, or every record in a file.

Payloads come back with their Content-Encoding undone; revisit records are returned as
they are (their caller knows where the original capture was indexed and resolves them).
A snapshot row names a file by its final name, but the file is `<name>.open` while its
writer appends to it (and after a crash, until recovery): `open_warc` finds either.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from archive.warc.recovery import OPEN_SUFFIX
from core.content_coding import decode_body

LOGGER = logging.getLogger(__name__)
# Largest payload handed back decoded: above the crawl's size cap (10 MB by default), far
# below what a decompression bomb would inflate to.
READ_LIMIT = 100_000_000


# --------------------------------------------------------------------------- read


@dataclass(frozen=True)
class StoredResponse:
    """One archived response as a reader wants it: Content-Encoding already undone.

    For a revisit `payload` is empty and `refers_to_uri`/`refers_to_date` say where the
    payload is; the caller resolves it (it knows where the original was indexed).
    `decoded` is False when the Content-Encoding could not be undone (payload is raw).
    """

    url: str
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    payload: bytes
    record_type: str
    date: datetime
    payload_digest: str | None
    truncated: bool
    decoded: bool
    refers_to_uri: str | None = None
    refers_to_date: datetime | None = None


@dataclass(frozen=True)
class RecordInfo:
    """An index line for one record of a file (for export and `verify`)."""

    offset: int
    length: int
    record_type: str
    record_id: str
    target_uri: str | None
    date: datetime | None
    payload_digest: str | None
    status: int | None
    truncated: bool
    refers_to_uri: str | None
    refers_to_date: datetime | None


def open_warc(directory: Path, warc_file: str) -> BinaryIO:
    """Open the WARC file a snapshot row names, for reading, wherever it is now.

    Tried in the order the file moves: the final name, then `<name>.open`, then the final
    name again (the writer or a recovery may rename it between the two tries). Once open,
    a rename no longer matters. Reading a live file is safe: records are appended whole
    before their rows are committed, so a row's bytes are always complete.
    Raises FileNotFoundError when it is under neither name.
    """
    final = directory / warc_file
    for path in (final, final.with_name(final.name + OPEN_SUFFIX), final):
        try:
            return open(path, "rb")  # the caller closes it
        except FileNotFoundError:
            continue
    raise FileNotFoundError(f"{warc_file} is missing (neither it nor {warc_file}{OPEN_SUFFIX} "
                            f"is in {directory})")


def read_response(directory: Path, warc_file: str, offset: int, *,
                  limit: int = READ_LIMIT) -> StoredResponse:
    """Read the response or revisit record that starts at `offset` in `warc_file`.

    The payload is decoded up to `limit` bytes (see `decode_content`).
    """
    with open_warc(directory, warc_file) as fh:
        fh.seek(offset)
        record = next(iter(ArchiveIterator(fh)), None)
        if record is None or record.rec_type not in ("response", "revisit"):
            found = record.rec_type if record is not None else "nothing"
            raise ValueError(f"{warc_file}@{offset}: expected a response record, found {found}")
        raw = record.raw_stream.read()
    http = record.http_headers
    headers = tuple((str(k), str(v)) for k, v in http.headers) if http else ()
    statusline = http.statusline if http else ""
    code, _, reason = statusline.partition(" ")
    payload, decoded = decode_content(raw, _header(headers, "content-encoding"), limit=limit)
    rec = record.rec_headers
    return StoredResponse(
        url=rec.get_header("WARC-Target-URI"),
        status=int(code) if code.isdigit() else 0,
        reason=reason,
        headers=headers,
        payload=payload,
        record_type=record.rec_type,
        date=parse_warc_date(rec.get_header("WARC-Date")),
        payload_digest=rec.get_header("WARC-Payload-Digest"),
        truncated=rec.get_header("WARC-Truncated") is not None,
        decoded=decoded,
        refers_to_uri=rec.get_header("WARC-Refers-To-Target-URI"),
        refers_to_date=_opt_date(rec.get_header("WARC-Refers-To-Date")),
    )


def iter_records(path: Path) -> Iterator[RecordInfo]:
    """Yield every record of a WARC file in order, with its offset and on-disk length."""
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        for record in it:
            yield _info(record, it.get_record_offset(), it.get_record_length())


def _info(record: ArcWarcRecord, offset: int, length: int) -> RecordInfo:
    rec = record.rec_headers
    status = None
    if record.http_headers is not None and record.rec_type in ("response", "revisit"):
        code = record.http_headers.get_statuscode()
        status = int(code) if code.isdigit() else None
    return RecordInfo(
        offset=offset,
        length=length,
        record_type=record.rec_type,
        record_id=rec.get_header("WARC-Record-ID"),
        target_uri=rec.get_header("WARC-Target-URI"),
        date=_opt_date(rec.get_header("WARC-Date")),
        payload_digest=rec.get_header("WARC-Payload-Digest"),
        status=status,
        truncated=rec.get_header("WARC-Truncated") is not None,
        refers_to_uri=rec.get_header("WARC-Refers-To-Target-URI"),
        refers_to_date=_opt_date(rec.get_header("WARC-Refers-To-Date")),
    )


def _opt_date(value: str | None) -> datetime | None:
    return parse_warc_date(value) if value else None


def _header(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def parse_warc_date(value: str) -> datetime:
    """Parse a WARC-Date (ISO 8601 UTC, 'Z', optional fraction) into an aware datetime."""
    parsed = datetime.fromisoformat(value.strip())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def decode_content(raw: bytes, content_encoding: str | None, *,
                   limit: int = READ_LIMIT) -> tuple[bytes, bool]:
    """Undo a Content-Encoding chain ("gzip", "br", "gzip, br", ...).

    Returns (payload, decoded). Uses the crawl's decoder (core.content_coding), bounded the
    same way, so a stored gzip bomb cannot exhaust memory when read back. An encoding
    that cannot be undone yields the raw bytes and decoded=False. At most `limit` decoded
    bytes come back.
    """
    result = decode_body(raw, content_encoding, limit)
    if result.error is not None:
        LOGGER.debug("cannot undo Content-Encoding %r: %s", content_encoding, result.error)
        return raw, False
    return result.data, True
