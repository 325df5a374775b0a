"""Fixity of one record (`rotwatch.fixity.read_member`): each check flags its own tampering.

Real WARC files written by `SnapshotWriter` (a response, then a revisit of the same
payload); each tampered record is re-gzipped into a file of its own and read back the way
verify and export read every row.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.store import ArchivedSnapshot
from archive.warc.writer import ArchivedRecord, Exchange, SnapshotWriter
from rotwatch.fixity import RecordError, read_member

WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BODY = b"<html><title>Cited</title><p>What the article relied on, kept as evidence.</p></html>"
FIRST, SECOND = "https://a.example/page", "https://b.example/copy"


@dataclass(frozen=True)
class Written:
    warc_dir: Path
    response: ArchivedSnapshot
    revisit: ArchivedSnapshot


def _snapshot(rid: int, url: str, record: ArchivedRecord) -> ArchivedSnapshot:
    return ArchivedSnapshot(rid, url, record.warc_file, record.offset, record.length,
                            record.payload_digest, record.record_type, WHEN.isoformat())


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Written:
    warc_dir = tmp_path_factory.mktemp("fixity")
    with SnapshotWriter(warc_dir) as writer:
        records = [writer.write(Exchange(
            url=url, method="GET", request_headers=(("User-Agent", "test"),), status=200,
            reason="OK", http_version="HTTP/1.1",
            response_headers=(("Content-Type", "text/html"),), body=BODY, truncated=False,
            fetched_at=WHEN)) for url in (FIRST, SECOND)]
    assert [r.record_type for r in records] == ["response", "revisit"]
    return Written(warc_dir, _snapshot(1, FIRST, records[0]), _snapshot(2, SECOND, records[1]))


def _raw(warc_dir: Path, row: ArchivedSnapshot) -> bytes:
    with open(warc_dir / row.warc_file, "rb") as fh:
        fh.seek(row.offset)
        return zlib.decompress(fh.read(row.length), 16 + zlib.MAX_WBITS)


def _tampered(written: Written, row: ArchivedSnapshot, raw: bytes, name: str
              ) -> ArchivedSnapshot:
    """`raw` as one whole gzip member in a file of its own, and a row naming it."""
    member = gzip.compress(raw)
    (written.warc_dir / f"{name}.warc.gz").write_bytes(member)
    return dataclasses.replace(row, warc_file=f"{name}.warc.gz", offset=0, length=len(member))


def _sha1(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def _header(raw: bytes, name: bytes, value: bytes | None) -> bytes:
    """`raw` with one WARC header's value replaced (None: the header removed)."""
    line = re.compile(rb"\r\n" + name + rb": [^\r]*")
    assert line.search(raw), name
    return line.sub(b"" if value is None else b"\r\n" + name + b": " + value, raw, count=1)


def _new_block(raw: bytes, block: bytes) -> bytes:
    """`raw` with another block, its Content-Length and WARC-Block-Digest made to match."""
    head = raw.partition(b"\r\n\r\n")[0]
    head = _header(head, b"Content-Length", str(len(block)).encode())
    head = _header(head, b"WARC-Block-Digest", _sha1(block).encode())
    return head + b"\r\n\r\n" + block + b"\r\n\r\n"


def _block(raw: bytes) -> bytes:
    return raw.partition(b"\r\n\r\n")[2][:-4]


def test_untouched_records_pass_with_their_headers(written: Written) -> None:
    response = read_member(written.warc_dir, written.response)
    assert (response.uri, response.refers_to_uri) == (FIRST, None)
    assert response.date is not None and response.date.startswith("2026-03-01T12:00:00")
    revisit = read_member(written.warc_dir, written.revisit)
    assert (revisit.uri, revisit.refers_to_uri) == (SECOND, FIRST)
    with open(written.warc_dir / written.revisit.warc_file, "rb") as fh:
        fh.seek(written.revisit.offset)
        assert revisit.data == fh.read(written.revisit.length)  # copied byte for byte


OTHER = _sha1(b"another block").encode()
TAMPERINGS: dict[str, tuple[str, Callable[[bytes], bytes], str]] = {
    # name: (which record, what is done to its uncompressed bytes, the expected message)
    "block digest": ("response", lambda r: _header(r, b"WARC-Block-Digest", OTHER),
                     "block digest failed"),
    # warcio checks no digest of a revisit by default; its block digest is still checked
    "revisit block digest": ("revisit", lambda r: _header(r, b"WARC-Block-Digest", OTHER),
                             "block digest failed"),
    "malformed digest": ("response", lambda r: _header(
        r, b"WARC-Block-Digest", b"sha1:" + b"Z" * 40), "unreadable"),
    "payload": ("response", lambda r: _new_block(r, _block(r).replace(b"relied", b"denied")),
                "payload digest failed"),
    # warcio skips the payload digest of a segment: the store's own hash still catches it
    "segmented payload": ("response", lambda r: _new_block(
        _header(r, b"WARC-Date", b"2026-03-01T12:00:00Z\r\nWARC-Segment-Number: 1"),
        _block(r).replace(b"relied", b"denied")), "payload does not match its digest"),
    "short block": ("response", lambda r: _header(
        r, b"Content-Length", str(len(_block(r)) + 1).encode()), "match its Content-Length"),
    "long block": ("revisit", lambda r: _header(
        r, b"Content-Length", str(len(_block(r)) - 1).encode()), "match its Content-Length"),
    "bad length": ("response", lambda r: _header(r, b"Content-Length", b"12x"),
                   "no valid Content-Length"),
    "no length": ("revisit", lambda r: _header(r, b"Content-Length", None),
                  "no valid Content-Length"),
    "type": ("response", lambda r: _header(r, b"WARC-Type", b"resource"),
             "is a resource record, the store says response"),
    "stored digest": ("revisit", lambda r: _header(r, b"WARC-Payload-Digest", OTHER),
                      "WARC-Payload-Digest differs from the store"),
    "no type": ("revisit", lambda r: _header(r, b"WARC-Type", None), "has no WARC-Type"),
    # warcio itself fails on this one (AttributeError): still one clear RecordError
    "no target": ("response", lambda r: _header(r, b"WARC-Target-URI", None), "unreadable"),
    "not a record": ("response", lambda r: r.replace(b"WARC/1.1", b"HTTP/1.1", 1),
                     "unreadable: Invalid WARC record"),
    "empty": ("response", lambda r: b"", "no WARC record at this offset"),
}


@pytest.mark.parametrize("case", sorted(TAMPERINGS))
def test_each_tampering_is_flagged(written: Written, case: str) -> None:
    kind, change, expected = TAMPERINGS[case]
    row = written.response if kind == "response" else written.revisit
    raw = _raw(written.warc_dir, row)
    assert change(raw) != raw
    tampered = _tampered(written, row, change(raw), case.replace(" ", "-"))
    with pytest.raises(RecordError, match=expected):
        read_member(written.warc_dir, tampered)


def test_the_stored_length_is_exactly_one_member(written: Written) -> None:
    # The response's row stretched over the revisit's member too: still a valid gzip
    # stream, but not the one member the row says.
    row = written.response
    both = dataclasses.replace(row, length=written.revisit.offset + written.revisit.length
                               - row.offset)
    with pytest.raises(RecordError, match="stored length does not match the gzip member"):
        read_member(written.warc_dir, both)
    cut = dataclasses.replace(row, length=row.length - 1)
    with pytest.raises(RecordError, match="stored length does not match the gzip member"):
        read_member(written.warc_dir, cut)


def test_a_row_whose_digest_differs_from_the_record_is_flagged(written: Written) -> None:
    row = dataclasses.replace(written.response, digest=_sha1(b"something else"))
    with pytest.raises(RecordError, match="WARC-Payload-Digest differs from the store"):
        read_member(written.warc_dir, row)
