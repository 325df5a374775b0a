"""Records of one HTTP exchange on its way to the archive: what was fetched, where it went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from core.records import Capture

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Exchange:
    """One HTTP request/response pair as Scrapy saw it (body de-chunked, not decoded)."""

    url: str
    method: str
    request_headers: Headers
    status: int
    reason: str
    http_version: str
    response_headers: Headers
    body: bytes
    truncated: bool
    fetched_at: datetime
    ip_address: str | None = None
    # A 304 to a conditional request: the earlier capture it confirms (archived as a
    # server-not-modified revisit of that capture).
    confirms: Capture | None = None

    def __post_init__(self) -> None:
        # A naive time would be archived as UTC silently, possibly hours off.
        if self.fetched_at.tzinfo is None or self.fetched_at.utcoffset() is None:
            raise ValueError("Exchange.fetched_at must be timezone-aware")


@dataclass(frozen=True)
class ArchivedRecord:
    """Where `SnapshotWriter.write` put the response (or revisit) record of one exchange.

    `length` is the record's size on disk (its gzip member), so the file's bytes
    [offset, offset + length) are one self-contained, readable record.
    """

    warc_file: str
    offset: int
    length: int
    payload_digest: str
    record_type: Literal["response", "revisit"]
    refers_to_uri: str | None = None
    refers_to_date: datetime | None = None
    truncated: bool = False
    # The full response this record stands for (itself, or the capture its revisit names):
    # what a later conditional recheck's 304 confirms.
    capture: Capture | None = None
