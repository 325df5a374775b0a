"""WARC records of one exchange, built by warcio: every kind reads back with its digests
checked, revisits name their original to the microsecond, non-ASCII headers stay readable
(`warcio check`, records read back by offset), and the records are byte for byte what
warcio's record builders make."""

from __future__ import annotations

import base64
import hashlib
import io
import random
import subprocess
import sys
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.warc.records import (
    EMPTY_PAYLOAD_DIGEST,
    GZIP_LEVEL,
    GZIP_WBITS,
    SERVER_NOT_MODIFIED,
    Original,
    _gzip_member,
    _uuid4_urn,
    archive_response_headers,
    build_exchange,
    format_warc_date,
    payload_digest,
    window_bits,
)
from archive.warc.writer import SnapshotWriter, read_response
from core.exchange import Exchange
from core.records import Capture

WHEN = datetime(2026, 12, 1, 10, 30, 5, 123456, tzinfo=UTC)


def _exchange(body: bytes = b"<html><title>t</title>hello</html>", **changes: object
              ) -> Exchange:
    values: dict[str, object] = dict(
        url="http://127.0.0.2:8080/bench/200/7?q=1", method="GET",
        request_headers=(("Accept-Encoding", "gzip, br"), ("User-Agent", "rotwatch")),
        status=200, reason="OK", http_version="HTTP/1.1",
        response_headers=(("Content-Type", "text/html"), ("Content-Length", str(len(body))),
                          ("Transfer-Encoding", "chunked"), ("ETag", '"abc"')),
        body=body, truncated=False, fetched_at=WHEN, ip_address="127.0.0.2")
    values.update(changes)
    return Exchange(**values)  # type: ignore[arg-type]


ORIGINAL = Original("http://127.0.0.2:8080/bench/200/7", datetime(2026, 11, 30, tzinfo=UTC),
                    "<urn:uuid:00000000-0000-0000-0000-000000000001>")
CASES = {
    "response": (_exchange(), None),
    "truncated, no address": (_exchange(b"x" * 5000, truncated=True, ip_address=None), None),
    "empty body": (_exchange(b"", status=301, reason="Moved Permanently"), None),
    "digest revisit": (_exchange(), ORIGINAL),
    "304 revisit": (_exchange(b"", status=304, reason="Not Modified"),
                    Original(ORIGINAL.uri, ORIGINAL.date, not_modified=True)),
    "non-ASCII headers": (_exchange(response_headers=(
        ("Content-Disposition", "inline; filename=\u00e9t\u00e9.html"),
        ("X-Name", "caf\u00e9"), ("Content-Type", "text/html"))), None),
}


def _records(data: bytes) -> list[tuple[dict[str, str], bytes, bool | None]]:
    """(WARC headers, payload, digests passed) of each record, read by warcio."""
    found = []
    for record in ArchiveIterator(io.BytesIO(data), check_digests=True):
        payload = record.content_stream().read()
        found.append((dict(record.rec_headers.headers), payload,
                      record.digest_checker.passed))
    return found


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_record_kind_reads_back_with_its_digests(case: str) -> None:
    exchange, original = CASES[case]
    digest = payload_digest(exchange.body)
    ids = ("<urn:uuid:00000000-0000-0000-0000-00000000000a>",
           "<urn:uuid:00000000-0000-0000-0000-00000000000b>")
    built = build_exchange(exchange, digest, original, "<urn:uuid:info>", ids=ids)
    assert built.response_length == len(built.data) - built.response_offset
    (request, _, request_ok), (response, payload, response_ok) = _records(built.data)
    assert request["WARC-Type"] == "request" and request["WARC-Record-ID"] == ids[0]
    assert request_ok is not False and response_ok is not False  # digests match
    assert response["WARC-Record-ID"] == ids[1] and response["WARC-Concurrent-To"] == ids[0]
    assert response["WARC-Date"] == format_warc_date(WHEN)  # microseconds kept
    if original is None:
        assert response["WARC-Type"] == "response" and payload == exchange.body
        assert response["WARC-Payload-Digest"] == digest
    else:
        assert response["WARC-Type"] == "revisit" and payload == b""
        assert response["WARC-Refers-To-Date"] == format_warc_date(original.date)
        assert response["WARC-Refers-To-Target-URI"] == original.uri
        assert (response["WARC-Profile"] == SERVER_NOT_MODIFIED) == original.not_modified


def test_non_ascii_headers_stay_readable(tmp_path: Path) -> None:
    exchange = _exchange(response_headers=(("Content-Disposition", "inline; name=\u00e9t\u00e9"),
                                           ("Content-Type", "text/html")))
    with SnapshotWriter(tmp_path) as writer:
        record = writer.write(exchange)
        confirmed = writer.write(_exchange(b"", status=304, reason="Not Modified", confirms=Capture(
            exchange.url, "2026-12-01T10:30:05.123456Z", record.payload_digest)))
    stored = read_response(tmp_path, record.warc_file, record.offset)
    assert stored.payload == exchange.body and stored.status == 200
    again = read_response(tmp_path, confirmed.warc_file, confirmed.offset)
    assert again.status == 304 and again.refers_to_uri == exchange.url
    warcio = Path(sys.executable).parent / "warcio"
    checked = subprocess.run([str(warcio), "check", "-v", str(tmp_path / record.warc_file)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout


def test_warc_dates_are_strftimes_of_utc() -> None:
    """The per-second cache gives strftime's WARC-Date for any moment and time zone."""
    start = datetime(2026, 12, 31, 23, 59, 58, tzinfo=UTC)
    moments = [start + timedelta(microseconds=317_001 * i) for i in range(40)]
    moments += [m.astimezone(timezone(timedelta(hours=-5, minutes=-30))) for m in moments]
    moments += [start.replace(microsecond=1), start.replace(microsecond=999_999)]
    for moment in moments:
        utc = moment.astimezone(UTC)
        assert format_warc_date(moment) == utc.strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ")



def _through_warcio_builders(ex: Exchange, digest: str, original: Original | None,
                             ids: tuple[str, str]) -> bytes:
    """Both records as warcio's create_warc_record / create_revisit_record make them from
    header dicts (what build_exchange called before it listed the headers itself)."""
    writer = WARCWriter(io.BytesIO(), gzip=False, warc_version="1.1")
    common = {"WARC-Date": format_warc_date(ex.fetched_at), "WARC-Warcinfo-ID": "<urn:uuid:i>"}
    if ex.ip_address:
        common["WARC-IP-Address"] = ex.ip_address
    parts = urlsplit(ex.url)
    request = writer.create_warc_record(
        ex.url, "request", http_headers=StatusAndHeaders(
            f"{parts.path}?{parts.query} {ex.http_version}",
            [("Host", parts.netloc), *ex.request_headers], protocol=ex.method),
        warc_headers_dict={"WARC-Type": "request", **common, "WARC-Record-ID": ids[0],
                           "WARC-Concurrent-To": ids[1],
                           "WARC-Payload-Digest": EMPTY_PAYLOAD_DIGEST})
    http = StatusAndHeaders(f"{ex.status} {ex.reason}", archive_response_headers(
        ex.response_headers, len(ex.body), status=ex.status), protocol=ex.http_version)
    warc = {"WARC-Type": "response" if original is None else "revisit", **common,
            "WARC-Record-ID": ids[1], "WARC-Concurrent-To": ids[0]}
    if original is None:
        warc["WARC-Payload-Digest"] = digest
        if ex.truncated:
            warc["WARC-Truncated"] = "length"
        response = writer.create_warc_record(
            ex.url, "response", payload=io.BytesIO(ex.body), length=len(ex.body),
            http_headers=http, warc_headers_dict=warc)
    else:
        if original.record_id:
            warc["WARC-Refers-To"] = original.record_id
        response = writer.create_revisit_record(
            ex.url, digest, original.uri, format_warc_date(original.date),
            http_headers=http, warc_headers_dict=warc)
        if original.not_modified:
            response.rec_headers.replace_header("WARC-Profile", SERVER_NOT_MODIFIED)
    out = io.BytesIO()
    writer.out = out
    writer.write_record(request)
    writer.write_record(response)
    return out.getvalue()


@pytest.mark.parametrize("case", sorted(CASES))
def test_records_are_byte_for_byte_what_warcios_record_builders_make(case: str) -> None:
    """build_exchange lists each record's WARC headers in their final order instead of
    having warcio add and replace them one by one: the records must not change."""
    exchange, original = CASES[case]
    digest = payload_digest(exchange.body)
    ids = ("<urn:uuid:00000000-0000-4000-8000-00000000000a>",
           "<urn:uuid:00000000-0000-4000-8000-00000000000b>")
    built = build_exchange(exchange, digest, original, "<urn:uuid:i>", ids=ids)
    first = zlib.decompress(built.data[:built.response_offset], zlib.MAX_WBITS + 16)
    second = zlib.decompress(built.data[built.response_offset:], zlib.MAX_WBITS + 16)
    assert first + second == _through_warcio_builders(exchange, digest, original, ids)


def test_generated_exchanges_are_byte_for_byte_what_warcio_makes() -> None:
    """Records of random exchanges (statuses, header lists, bodies, revisits, truncation)
    equal warcio's, non-ASCII header values and empty bodies included."""
    rng = random.Random(13)
    alphabet = "abcXYZ019 -;=/\"\u00e9\u00fc\u4e2d"
    for n in range(300):
        body = rng.randbytes(rng.choice([0, 1, 200, 20_000]))
        headers = tuple((rng.choice(["Content-Type", "ETag", "X-A", "Content-Length",
                                     "Transfer-Encoding", "Set-Cookie"]),
                         "".join(rng.choice(alphabet[:15]) for _ in range(rng.randrange(0, 12))))
                        for _ in range(rng.randrange(0, 6)))
        if n % 3 == 0:  # non-ASCII values, as warcio %-encodes them
            headers += (("X-Name", "".join(rng.choice(alphabet[:3] + alphabet[15:])
                                           for _ in range(rng.randrange(1, 8)))),)
        if n % 7 == 0:  # …and one warcio cannot encode: it raises, so must build_exchange
            headers += (("Content-Disposition", "inline; x=\u00e9; y"),)
        exchange = _exchange(body, status=rng.choice([200, 301, 404, 500]),
                             reason=rng.choice(["OK", "Moved", "Not Found"]),
                             url=f"http://127.0.0.{2 + n % 3}:8080/p/{n}?q={n}",
                             response_headers=headers, truncated=rng.random() < 0.2,
                             ip_address=rng.choice([None, "127.0.0.2"]))
        original = rng.choice([None, None, ORIGINAL])
        digest = payload_digest(body)
        ids = (f"<urn:uuid:{UUID(int=2 * n, version=4)}>",
               f"<urn:uuid:{UUID(int=2 * n + 1, version=4)}>")
        try:
            expected = _through_warcio_builders(exchange, digest, original, ids)
        except UnicodeEncodeError:  # warcio's %-encoding leaves some values non-ASCII
            with pytest.raises(UnicodeEncodeError):
                build_exchange(exchange, digest, original, "<urn:uuid:i>", ids=ids)
            continue
        built = build_exchange(exchange, digest, original, "<urn:uuid:i>", ids=ids)
        records = zlib.decompress(built.data[:built.response_offset], zlib.MAX_WBITS + 16) \
            + zlib.decompress(built.data[built.response_offset:], zlib.MAX_WBITS + 16)
        assert records == expected, n


def test_digests_and_record_ids_are_what_warcio_would_write() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        body = rng.randbytes(rng.randrange(0, 64))
        assert payload_digest(body) == "sha1:" + base64.b32encode(
            hashlib.sha1(body).digest()).decode("ascii")
    ids = [build_exchange(_exchange(), "sha1:X", None, "<urn:uuid:i>").response_id
           for _ in range(200)]
    assert len(set(ids)) == len(ids)
    for record_id in ids:
        assert record_id.startswith("<urn:uuid:") and record_id.endswith(">")
        assert UUID(record_id[10:-1]).version == 4


def test_gzip_members_are_what_the_full_window_makes() -> None:
    """A record is compressed with the smallest window that holds it: the member must be
    byte for byte the one zlib makes with warcio's 32 KiB window, at every size (the
    window boundaries included) and for random, repetitive and markup-like records."""
    rng = random.Random(3)
    words = [rng.randbytes(rng.randrange(1, 12)) for _ in range(40)] + [
        b"<div class=x>", b"</p>", b" ", b"\r\n", b"a" * 40]
    sizes = [0, 1, 100, 32_768, 40_000] + [
        (1 << bits) - 262 + delta for bits in range(9, 16) for delta in (-1, 0, 1)]
    sizes += [rng.randrange(0, 34_000) for _ in range(300)]
    for n, size in enumerate(sizes):
        kind = n % 3
        if kind == 0:
            record = rng.randbytes(size)
        elif kind == 1:
            record = b"".join(rng.choice(words) for _ in range(size // 4 + 1))[:size]
        else:
            record = (b"x" * rng.randrange(1, 300) + rng.randbytes(8)) * (size // 300 + 1)
            record = record[:size]
        full = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS)
        assert _gzip_member(record) == full.compress(record) + full.flush(), (size, kind)
    assert [window_bits(n) for n in (0, 250, 251, 32_506, 32_507, 10**6)] == [
        9, 9, 10, 15, 15, 15]


def test_record_ids_are_uuid4_urns_of_their_random_bytes() -> None:
    rng = random.Random(11)
    for raw in [bytes(16), b"\xff" * 16] + [rng.randbytes(16) for _ in range(3000)]:
        assert _uuid4_urn(raw) == f"<urn:uuid:{UUID(bytes=raw, version=4)}>"
