"""WARC records of one exchange, built by warcio: every kind reads back with its digests
checked, revisits name their original to the microsecond, and non-ASCII headers stay
readable (`warcio check`, records read back by offset)."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.warc.records import (
    SERVER_NOT_MODIFIED,
    Original,
    build_exchange,
    format_warc_date,
    payload_digest,
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
