"""Reading rotwatch's WARC files back: one response by offset, or every record in a file.

Payloads come back with their Content-Encoding undone; revisit records are returned as
they are (their caller knows where the original capture was indexed and resolves them).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

LOGGER = logging.getLogger(__name__)


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


def read_response(directory: Path, warc_file: str, offset: int) -> StoredResponse:
    """Read the response or revisit record that starts at `offset` in `warc_file`."""
    with open(directory / warc_file, "rb") as fh:
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
    payload, decoded = decode_content(raw, _header(headers, "content-encoding"))
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


def decode_content(raw: bytes, content_encoding: str | None) -> tuple[bytes, bool]:
    """Undo a Content-Encoding chain ("gzip", "br", "gzip, br", ...).

    Returns (payload, decoded). A body cut at the size cap is a cut compressed stream,
    so decoders must hand back what they could decode instead of raising. An encoding we
    cannot undo (unknown, or corrupt) yields the raw bytes and decoded=False.
    """
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    data = raw
    # Codings are listed in the order they were applied, so undo them last-first.
    for coding in reversed(codings):
        if coding == "identity":
            continue
        try:
            data = _decode_one(coding, data)
        except (zlib.error, ValueError, OSError) as exc:
            LOGGER.debug("cannot undo Content-Encoding %r: %s", coding, exc)
            return raw, False
    return data, True


def _decode_one(coding: str, data: bytes) -> bytes:
    if coding in ("gzip", "x-gzip"):
        # Servers concatenate gzip members occasionally; keep going while input remains.
        out = bytearray()
        while data:
            decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += decomp.decompress(data)
            if not decomp.eof:
                break
            data = decomp.unused_data
        return bytes(out)
    if coding == "deflate":
        # "deflate" should be zlib-wrapped, but many servers send a raw deflate stream.
        try:
            return zlib.decompressobj().decompress(data)
        except zlib.error:
            return zlib.decompressobj(-zlib.MAX_WBITS).decompress(data)
    if coding == "br":
        try:
            import brotli
        except ImportError as exc:  # optional dependency, as it is for Scrapy
            raise ValueError("brotli is not installed") from exc
        decomp = brotli.Decompressor()
        try:
            return bytes(decomp.process(data))
        except brotli.error as exc:
            raise ValueError(str(exc)) from exc
    raise ValueError(f"unsupported Content-Encoding {coding!r}")
