"""How one HTTP exchange becomes WARC 1.1 records (pure: bytes in, gzip members out).

`archive.warc.writer.SnapshotWriter` decides where the bytes go (which file, revisit or not);
this module decides what they are. Public names are re-exported by `archive.warc.writer`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
import threading
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final
from urllib.parse import urlsplit
from uuid import UUID

from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from core.exchange import Exchange, Headers

ORIG_PREFIX: Final = "X-Archive-Orig-"
WARC_1_1_SPEC: Final = (
    "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
)
# WARC 1.1 revisit profile of a 304 answer to a conditional request (section 6.7.3).
SERVER_NOT_MODIFIED: Final = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
# Responses that never carry a body: their Content-Length describes something else
# (the GET entity for HEAD, the cached entity for 304), so it is kept as sent.
_BODYLESS_STATUS: Final = frozenset({204, 304})
# The WARC-Payload-Digest of no payload (a request record's).
EMPTY_PAYLOAD_DIGEST: Final = "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"
# Each record's gzip member: zlib's default level (6), a 32 KiB window (15 bits) with a
# gzip header and trailer (+16); see `_gzip_member` for the window. warcio's own gzip
# writer uses level 9, which on article-sized pages costs 1.6x the CPU of level 6 for
# 0.8 % smaller files (docs/benchmarks.md, "Sixth issue-13 round"); any gzip reader
# reads either.
GZIP_LEVEL: Final = 6
GZIP_WBITS: Final = 16 + 15
_WRITERS = threading.local()


@dataclass(frozen=True)
class Original:
    """The earlier capture a revisit points at; `record_id` only when we wrote it."""

    uri: str
    date: datetime
    record_id: str | None = None
    # The server answered 304 to our validators (not: we found the same payload digest).
    not_modified: bool = False


@dataclass(frozen=True)
class BuiltExchange:
    """Request and response/revisit records of one exchange, gzipped, back to back."""

    data: bytes
    response_offset: int  # within `data`
    response_length: int
    response_id: str
    date: str  # the exchange's WARC-Date


def payload_digest(body: bytes) -> str:
    """The WARC-Payload-Digest of a body: "sha1:" + base32, as warcio and Heritrix write it."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def format_warc_date(moment: datetime) -> str:
    """WARC 1.1 date: UTC, 'Z', microseconds only when there are some."""
    utc = moment.astimezone(UTC)
    second = _warc_second(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)
    micro = utc.microsecond
    return f"{second}.{micro:06d}Z" if micro else f"{second}Z"


@lru_cache(maxsize=256)
def _warc_second(year: int, month: int, day: int, hour: int, minute: int,
                 second: int) -> str:
    # A crawl archives dozens of responses a second, each date formatted twice: strftime
    # once per second is enough (keyed by the fields: `replace(microsecond=0)` and a
    # datetime's hash cost more than the lookup saved).
    return datetime(year, month, day, hour, minute, second).strftime("%Y-%m-%dT%H:%M:%S")


def archive_response_headers(
    headers: Headers, body_length: int, *, status: int, method: str = "GET"
) -> list[tuple[str, str]]:
    """The response headers as archived: as sent, except where readers would misparse.

    - Transfer-Encoding becomes X-Archive-Orig-Transfer-Encoding: Scrapy already removed
      the chunking, so a reader that saw "chunked" would try to de-chunk plain bytes.
    - A Content-Length that does not match the stored body (truncated body, several
      values, or a server that lied) becomes X-Archive-Orig-Content-Length, and one
      accurate Content-Length is added whenever a body is allowed, so readers never
      read past or short of the body.
    - CR/LF inside names or values would end the header block early: replaced by spaces.
    """
    out: list[tuple[str, str]] = []
    lengths: list[str] = []
    for name, value in _cleaned(headers):
        lowered = name.lower()
        if lowered == "transfer-encoding":
            out.append((ORIG_PREFIX + name, value))
            continue
        if lowered == "content-length":
            lengths.append(value.strip())
        out.append((name, value))
    if method.upper() == "HEAD" or status < 200 or status in _BODYLESS_STATUS:
        return out
    if lengths == [str(body_length)]:
        return out
    out = [(ORIG_PREFIX + n, v) if n.lower() == "content-length" else (n, v) for n, v in out]
    out.append(("Content-Length", str(body_length)))
    return out


def _clean(text: str) -> str:
    return text.replace("\r", " ").replace("\n", " ")


def _cleaned(headers: Headers) -> list[tuple[str, str]]:
    """The pairs with CR/LF replaced (`_clean`), looked for in one string: real headers
    have none, and cleaning each name and value was two calls per header."""
    joined = "".join([text for pair in headers for text in pair])
    if "\r" not in joined and "\n" not in joined:
        return list(headers)
    return [(_clean(name), _clean(value)) for name, value in headers]


def build_warcinfo(file_name: str, software: str) -> tuple[bytes, str]:
    """The warcinfo record that opens every file: (gzip member, its WARC-Record-ID)."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True, warc_version="1.1")
    info = writer.create_warcinfo_record(
        file_name,
        {
            "software": software,
            "format": "WARC File Format 1.1",
            "conformsTo": WARC_1_1_SPEC,
            "hostname": socket.gethostname(),
        },
    )
    writer.write_record(info)
    return buf.getvalue(), info.rec_headers.get_header("WARC-Record-ID")


def build_exchange(
    ex: Exchange, digest: str, original: Original | None, warcinfo_id: str, *,
    ids: tuple[str, str] | None = None,
) -> BuiltExchange:
    """Both records of an exchange as gzip members, request first.

    Built in memory so the writer can append them with a single write: a crash then
    never leaves a request record whose response is missing from an intact file.
    With `original`, the second record is a revisit (headers only, no body). `ids` fixes
    the two record ids (tests). warcio builds every record: digests, header encoding
    (RFC 8187 for non-ASCII values) and gzip members are its job, not ours.
    """
    request_id, response_id = ids or _record_ids()
    date = format_warc_date(ex.fetched_at)
    common = [("WARC-Date", date), ("WARC-Warcinfo-ID", warcinfo_id)]
    if ex.ip_address:
        common.append(("WARC-IP-Address", ex.ip_address))

    parts = urlsplit(ex.url)
    request_headers = _cleaned(ex.request_headers)
    if parts.netloc and not any(k.lower() == "host" for k, _ in request_headers):
        # Scrapy's headers lack Host (Twisted adds it on the wire); readers expect it.
        request_headers.insert(0, ("Host", parts.netloc))
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    status_line = f"{ex.status} {_clean(ex.reason)}".strip()
    response_headers = archive_response_headers(
        ex.response_headers, len(ex.body), status=ex.status, method=ex.method)
    # Each record's WARC headers in their final order (warcio adds WARC-Block-Digest,
    # Content-Type and Content-Length after them when it writes the record). This is the
    # order warcio's own create_*_record calls gave, without their header-by-header
    # lookups and replacements; a request has no payload, so its digest is known.
    request_warc = [("WARC-Type", "request"), *common, ("WARC-Record-ID", request_id),
                    ("WARC-Concurrent-To", response_id),
                    ("WARC-Payload-Digest", EMPTY_PAYLOAD_DIGEST), ("WARC-Target-URI", ex.url)]
    warc_headers = [("WARC-Type", "response" if original is None else "revisit"), *common,
                    ("WARC-Record-ID", response_id), ("WARC-Concurrent-To", request_id)]
    if original is None:
        # Given up front so warcio does not hash the body a second time.
        warc_headers.append(("WARC-Payload-Digest", digest))
        if ex.truncated:
            warc_headers.append(("WARC-Truncated", "length"))
        warc_headers.append(("WARC-Target-URI", ex.url))
    else:
        if original.record_id:
            warc_headers.append(("WARC-Refers-To", original.record_id))
        warc_headers += [
            ("WARC-Target-URI", ex.url),
            # The WARC 1.1 identical-payload-digest profile, as warcio names it, unless
            # the server answered 304 to our validators.
            ("WARC-Profile", SERVER_NOT_MODIFIED if original.not_modified
             else WARCWriter.REVISIT_PROFILE_1_1),
            ("WARC-Refers-To-Target-URI", original.uri),
            ("WARC-Refers-To-Date", format_warc_date(original.date)),
            ("WARC-Payload-Digest", digest)]
    writer = _writer()
    request = writer.create_warc_record(
        ex.url, "request",
        http_headers=_Fields(f"{target} {ex.http_version}", request_headers,
                             protocol=ex.method.upper()),
        warc_headers=_Fields("", request_warc, protocol=WARCWriter.WARC_1_1))
    http = _Fields(status_line, response_headers, protocol=ex.http_version)
    response = writer.create_warc_record(
        ex.url, "response" if original is None else "revisit",
        payload=io.BytesIO(ex.body) if original is None else None,
        length=len(ex.body) if original is None else None, http_headers=http,
        warc_headers=_Fields("", warc_headers, protocol=WARCWriter.WARC_1_1))
    first = _gzip_member(_serialize(writer, request))
    second = _gzip_member(_serialize(writer, response))
    return BuiltExchange(first + second, len(first), len(second), response_id, date)


def _record_ids() -> tuple[str, str]:
    """Two WARC-Record-IDs as warcio makes them (random UUIDs), from one call to the OS."""
    random = os.urandom(32)
    return _uuid4_urn(random[:16]), _uuid4_urn(random[16:])


def _uuid4_urn(random: bytes) -> str:
    """A random (version 4) UUID's URN made from these 16 bytes, as warcio writes ids."""
    return f"<urn:uuid:{UUID(bytes=random, version=4)}>"


class _Fields(StatusAndHeaders):
    """warcio's header block, from (name, value) str pairs as every caller here gives:
    warcio's own constructor converts each pair again (bytes to str), four blocks per
    exchange. The list is the block's own (warcio appends to it and may re-encode it)."""

    def __init__(self, statusline: str, headers: list[tuple[str, str]],
                 protocol: str) -> None:
        self.statusline = statusline
        self.headers = headers
        self.protocol = protocol
        self.total_len = 0
        self.headers_buff = None


def _writer() -> WARCWriter:
    """This thread's warcio writer (uncompressed: see `_gzip_member`). Making one per
    exchange asked the OS for the host name twice per page."""
    writer: WARCWriter | None = getattr(_WRITERS, "writer", None)
    if writer is None:
        writer = _WRITERS.writer = WARCWriter(io.BytesIO(), gzip=False, warc_version="1.1")
    return writer


def _serialize(writer: WARCWriter, record: ArcWarcRecord) -> bytes:
    """One record as warcio writes it (headers, digests, block), uncompressed."""
    buf = io.BytesIO()
    writer.out = buf
    writer.write_record(record)
    return buf.getvalue()


def _gzip_member(record: bytes) -> bytes:
    """One record as one gzip member (level `GZIP_LEVEL`, zlib's full window).

    warcio's own gzip writer feeds the compressor each part of a record separately
    (WARC headers, HTTP headers, then the payload in 16 KiB reads) from Python; one call
    per record does the same work with less of it in Python.

    The window is the smallest that holds the whole record (`window_bits`): deflate never
    looks further back than the data it has, so the member is byte for byte the one the
    32 KiB window makes, and zlib sets up a fraction of the memory. In the main thread,
    where glibc hands the ~256 KB of a full-window compressor back to the OS after each
    member, that set-up was most of a small record's cost (43 -> 13 µs per member); in
    the recorder's worker thread (its own malloc arena) it cost no more than the small
    window's (13 µs either way): docs/benchmarks.md, "Fifth issue-13 round".
    """
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + window_bits(len(record)))
    return compressor.compress(record) + compressor.flush()


# zlib's MIN_LOOKAHEAD: deflate matches at most `window - MIN_LOOKAHEAD` bytes back.
_MIN_LOOKAHEAD: Final = 258 + 3 + 1


def window_bits(size: int) -> int:
    """The smallest deflate window (9 to 15 bits) within which every match in `size`
    bytes of input is as far back as the full window allows, so the output is the same."""
    bits = 9
    while bits < 15 and size > (1 << bits) - _MIN_LOOKAHEAD:
        bits += 1
    return bits
