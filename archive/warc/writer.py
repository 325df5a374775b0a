"""Snapshots as WARC 1.1: every checked URL's response, archived as the server sent it.

The Scrapy side hands over an `Exchange` (raw, still Content-Encoded but de-chunked body);
`SnapshotWriter.write` turns it into a request record plus a response record — or a
revisit record when the same payload was archived before — in a gzipped WARC file, one
gzip member per record so any record can be read by offset. See docs/warc.md.

This is the public face of the WARC code: record building (`archive.warc.records`),
reading (`archive.warc.reader`) and crash recovery (`archive.warc.recovery`) are
re-exported here, so callers import from `archive.warc.writer` only.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from archive.warc.cdxj import index_files, index_line, write_index
from archive.warc.reader import (
    RecordInfo,
    StoredResponse,
    decode_content,
    iter_records,
    open_warc,
    parse_warc_date,
    read_response,
)
from archive.warc.records import (
    Original,
    archive_response_headers,
    build_exchange,
    build_warcinfo,
    format_warc_date,
    payload_digest,
)
from archive.warc.recovery import (
    OPEN_SUFFIX,
    WARC_SUFFIX,
    RecoveryReport,
    recover_open_files,
    scan_valid_records,
    writer_holds,
)
from core.exchange import ArchivedRecord, Exchange, Headers
from core.records import Capture

try:  # see archive.warc.recovery: the lock is how recovery tells live files from dead ones
    import fcntl
except ImportError:  # pragma: no cover - rotwatch runs on Linux
    fcntl = None  # type: ignore[assignment]

LOG = logging.getLogger(__name__)
# How many payload digests a writer remembers itself (the store answers for older ones).
SEEN_LIMIT = 20_000

__all__ = [
    "OPEN_SUFFIX",
    "WARC_SUFFIX",
    "ArchivedRecord",
    "DigestLookup",
    "Exchange",
    "RecordInfo",
    "RecoveryReport",
    "SnapshotWriter",
    "StoredResponse",
    "archive_response_headers",
    "decode_content",
    "format_warc_date",
    "iter_records",
    "open_warc",
    "parse_warc_date",
    "payload_digest",
    "read_response",
    "recover_open_files",
    "scan_valid_records",
    "writer_holds",
]

DigestLookup = Callable[[str], tuple[str, datetime] | None]

# A header name as RFC 9110 allows it: headers made only of such names and of printable
# ASCII values read back from the WARC exactly as they were given (see _plain_headers).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Header names already found to be tokens: every response repeats the same few dozen,
# and the regex ran on each of them for every response (bounded: a server may invent
# names).
_TOKEN_NAMES: set[str] = set()
_TOKEN_NAMES_LIMIT = 4096


class SnapshotWriter:
    """Appends exchanges to rotating gzipped WARC 1.1 files in `directory`.

    Files are named `<prefix>-<UTC yyyymmddHHMMSS>-<serial>-<pid>.warc.gz` and carry an
    extra `.open` suffix while being written. A file is opened at the first `write`, so
    a writer that archives nothing leaves nothing behind.

    Not thread-safe (Scrapy calls it from the reactor thread). Each exchange is appended
    with unbuffered writes of complete gzip members, so a killed process leaves complete
    records plus at most one cut exchange, which `recover_open_files` removes.
    """

    def __init__(
        self,
        directory: Path,
        *,
        prefix: str = "rotwatch",
        max_file_bytes: int = 1_000_000_000,
        lookup_digest: DigestLookup | None = None,
        software: str = "rotwatch",
        seen_limit: int = SEEN_LIMIT,
        index: bool = False,
    ) -> None:
        if max_file_bytes <= 0:
            raise ValueError("max_file_bytes must be positive")
        self.directory = Path(directory)
        self.prefix = prefix
        self.max_file_bytes = max_file_bytes
        self._lookup = lookup_digest
        self._software = software
        self._serial = 0
        self._fh: io.FileIO | None = None
        self._name = ""  # final name of the file being written
        self._size = 0
        self._exchanges_in_file = 0
        self._warcinfo_id = ""
        # payload digest -> first capture this writer archived with it
        # Payloads written by this writer, for dedup before the store has committed their
        # snapshot rows. Bounded (least recently used go first): older payloads are found
        # through lookup_digest, so memory stays flat over a long crawl.
        self._seen: OrderedDict[str, Original] = OrderedDict()
        self._seen_limit = seen_limit
        self.files_written: list[str] = []  # final names, in order, once closed
        # With `index`, each finished file gets its CDXJ index (archive.warc.cdxj), made
        # from the records as written: reading the file back cost as much as writing it.
        # None: a record's headers need reading back to be indexed exactly (cdxj-indexer).
        self._index = index
        self._lines: list[str] | None = []
        self.directory.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> SnapshotWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Renaming is right even after an error: every byte in the file is a whole record.
        self.close()

    def write(self, exchange: Exchange) -> ArchivedRecord:
        """Archive one exchange; returns where its response or revisit record went."""
        confirmed = exchange.confirms
        if confirmed is not None:
            # A 304 to our validators: a revisit of the capture they came from, which
            # carries that capture's payload digest (the 304 itself has no payload).
            digest = confirmed.payload_digest
            original: Original | None = Original(
                confirmed.uri, parse_warc_date(confirmed.date), not_modified=True)
        else:
            digest = payload_digest(exchange.body)
            # Empty bodies (redirects, 204s) are not de-duplicated: a revisit would save
            # nothing and would tie together captures that merely share "no content".
            original = self._find_original(digest) if exchange.body else None
        if self._fh is None:
            self._open_file()
        built = build_exchange(exchange, digest, original, self._warcinfo_id)
        if self._exchanges_in_file and self._size + len(built.data) > self.max_file_bytes:
            self._finish_file()
            self._open_file()
            # Rebuilt so WARC-Warcinfo-ID names the new file's warcinfo record.
            built = build_exchange(exchange, digest, original, self._warcinfo_id)
        offset = self._size + built.response_offset
        self._append(built.data)
        self._exchanges_in_file += 1
        record = ArchivedRecord(
            warc_file=self._name,
            offset=offset,
            length=built.response_length,
            payload_digest=digest,
            record_type="response" if original is None else "revisit",
            refers_to_uri=original.uri if original else None,
            refers_to_date=original.date if original else None,
            truncated=exchange.truncated,
            capture=confirmed or (
                Capture(original.uri, format_warc_date(original.date), digest) if original
                else Capture(exchange.url, built.date, digest)),  # its WARC-Date, made once
        )
        if self._index:
            self._note_index_line(exchange, record)
        if original is None and exchange.body and digest not in self._seen:
            self._seen[digest] = Original(exchange.url, exchange.fetched_at, built.response_id)
            if len(self._seen) > self._seen_limit:
                self._seen.popitem(last=False)
        if self._size >= self.max_file_bytes:
            self._finish_file()  # full: hand it over now rather than at the next write
        return record

    def close(self) -> None:
        """Finish the current file (fsync, rename to its final name). Idempotent."""
        if self._fh is not None:
            self._finish_file()

    # ----------------------------------------------------------------- internals

    def _find_original(self, digest: str) -> Original | None:
        if digest in self._seen:
            self._seen.move_to_end(digest)
            return self._seen[digest]
        if self._lookup is not None:
            found = self._lookup(digest)
            if found is not None:
                return Original(found[0], found[1])
        return None

    def _note_index_line(self, exchange: Exchange, record: ArchivedRecord) -> None:
        if self._lines is None:
            return  # this file goes to cdxj-indexer anyway
        if not _plain_headers(exchange.response_headers):
            self._lines = None
            return
        mime = "warc/revisit" if record.record_type == "revisit" else next(
            (v for k, v in exchange.response_headers if k.lower() == "content-type"), None)
        self._lines.append(index_line(
            exchange.url, exchange.fetched_at, exchange.status, mime, record.payload_digest,
            record.warc_file, record.offset, record.length))

    def _open_file(self) -> None:
        now = datetime.now(UTC)
        pid = os.getpid()
        while True:
            name = f"{self.prefix}-{now:%Y%m%d%H%M%S}-{self._serial:05d}-{pid}{WARC_SUFFIX}"
            self._serial += 1
            if (self.directory / name).exists():
                continue
            with contextlib.suppress(FileExistsError):
                # "x": two writers (or two runs) must never share a file.
                fh = open(self.directory / (name + OPEN_SUFFIX), "xb", buffering=0)  # noqa: SIM115
                break
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        self._fh, self._name, self._size, self._exchanges_in_file = fh, name, 0, 0
        self._lines = []
        data, self._warcinfo_id = build_warcinfo(name, self._software)
        self._append(data)

    def _append(self, data: bytes) -> None:
        fh = self._fh
        assert fh is not None
        start = self._size
        try:
            view = memoryview(data)
            while view:
                written = fh.write(view)
                if written is None:  # pragma: no cover - only for non-blocking files
                    continue
                view = view[written:]
        except BaseException:
            # Disk full or interrupted: take the half record back out so the file stays
            # valid; if even that fails, the .open name tells recovery to deal with it.
            with contextlib.suppress(OSError):
                os.ftruncate(fh.fileno(), start)
            raise
        self._size += len(data)

    def _finish_file(self) -> None:
        fh = self._fh
        assert fh is not None
        self._fh = None
        try:
            os.fsync(fh.fileno())  # the rename below must not outlive the data in a crash
        finally:
            fh.close()  # also drops the flock
        os.replace(self.directory / (self._name + OPEN_SUFFIX), self.directory / self._name)
        self.files_written.append(self._name)
        if self._index:
            self._write_index()

    def _write_index(self) -> None:
        """After the rename: an index newer than its file is not stale (index_missing)."""
        try:
            if self._lines is None:
                index_files(self.directory, [self._name])
            else:
                write_index(self.directory, self._name, self._lines)
        except Exception as exc:  # a missing index is rebuilt on demand; the file stands
            LOG.warning("cannot index %s: %s", self._name, exc)


def _plain_headers(headers: Headers) -> bool:
    """Whether these response headers read back from the WARC exactly as given: names
    are tokens (no continuation lines, no colons) and values printable ASCII (warcio
    percent-encodes others)."""
    for name, value in headers:
        if not (value.isascii() and value.isprintable()):
            return False
        if name not in _TOKEN_NAMES:
            if not _TOKEN.fullmatch(name):
                return False
            if len(_TOKEN_NAMES) < _TOKEN_NAMES_LIMIT:
                _TOKEN_NAMES.add(name)
    return True
