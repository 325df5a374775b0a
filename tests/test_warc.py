"""WARC snapshots: write, read back with warcio, rotate, de-duplicate, survive SIGKILL."""

from __future__ import annotations

import gzip
import io
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.warc.writer import (
    OPEN_SUFFIX,
    ArchivedRecord,
    Exchange,
    SnapshotWriter,
    archive_response_headers,
    decode_content,
    iter_records,
    payload_digest,
    read_response,
    recover_open_files,
    scan_valid_records,
)

REPO = Path(__file__).resolve().parents[1]
WHEN = datetime(2024, 7, 29, 12, 30, 15, 250000, tzinfo=UTC)
KNOWN_BODY = b"<html>an article archived by an earlier run</html>"
KNOWN_ORIGIN = ("https://old.example/original", datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC))
NAME_RE = re.compile(r"^rotwatch-\d{14}-(\d{5})-(\d+)\.warc\.gz$")
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
# A tiny but real PNG: signature, then bytes that are not valid UTF-8 anywhere.
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def exchange(url: str, body: bytes, headers: tuple[tuple[str, str], ...] = (), **kw) -> Exchange:
    fields: dict = {
        "url": url,
        "method": "GET",
        "request_headers": (("User-Agent", "rotwatch-test"), ("Accept", "*/*")),
        "status": 200,
        "reason": "OK",
        "http_version": "HTTP/1.1",
        "response_headers": headers,
        "body": body,
        "truncated": False,
        "fetched_at": WHEN,
        "ip_address": "192.0.2.7",
    }
    fields.update(kw)
    return Exchange(**fields)


def warcio_check(path: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("warcio")
    if script.exists():
        cmd = [str(script), "check", str(path)]
    else:
        code = "import sys; from warcio.cli import main; main(sys.argv[1:])"
        cmd = [sys.executable, "-c", code, "check", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def record_at(path: Path, offset: int, length: int):
    """Parse exactly the bytes [offset, offset+length) on their own: one whole record."""
    data = path.read_bytes()[offset : offset + length]
    records = [(r, r.raw_stream.read()) for r in ArchiveIterator(io.BytesIO(data))]
    assert len(records) == 1
    return records[0]


def sha1_b32(data: bytes) -> str:
    return payload_digest(data)


GZIPPED = gzip.compress(b"<html>compressed page</html>" * 20)
CASES = [
    exchange(
        "https://a.example/page?q=1",
        b"<html>plain page</html>",
        (("Content-Type", "text/html"), ("Content-Length", "23")),
    ),
    exchange(
        "https://b.example/gz",
        GZIPPED,
        (("Content-Type", "text/html"), ("Content-Encoding", "gzip")),
    ),
    exchange("https://c.example/chunked", b"dechunked body", (("Transfer-Encoding", "chunked"),)),
    exchange("https://d.example/img.png", PNG, (("Content-Type", "image/png"),)),
    exchange("https://e.example/big", b"x" * 100, (("Content-Length", "5000"),), truncated=True),
    exchange(
        "https://f.example/same-as-a", b"<html>plain page</html>", (("Content-Type", "text/html"),)
    ),
    exchange("https://g.example/known", KNOWN_BODY, (("Content-Type", "text/html"),)),
]


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, list[ArchivedRecord], list[str]]:
    lookups: list[str] = []

    def lookup(digest: str) -> tuple[str, datetime] | None:
        lookups.append(digest)
        return KNOWN_ORIGIN if digest == sha1_b32(KNOWN_BODY) else None

    with SnapshotWriter(tmp_path, lookup_digest=lookup) as writer:
        results = [writer.write(ex) for ex in CASES]
    return tmp_path, results, lookups


def test_records_read_back_with_warcio(written) -> None:
    directory, _, _ = written
    files = sorted(p.name for p in directory.iterdir())
    assert len(files) == 1 and NAME_RE.match(files[0]), files
    path = directory / files[0]
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        records = [(r.rec_type, r.rec_headers, r.http_headers, r.raw_stream.read()) for r in it]
    assert records[0][0] == "warcinfo"
    assert records[0][1].get_header("WARC-Filename") == files[0]
    assert records[0][1].protocol == "WARC/1.1"
    info_id = records[0][1].get_header("WARC-Record-ID")
    pairs = [records[i : i + 2] for i in range(1, len(records), 2)]
    assert len(pairs) == len(CASES)
    expected_types = ["response"] * 5 + ["revisit", "revisit"]
    for ex, (req, resp), rtype in zip(CASES, pairs, expected_types, strict=True):
        assert req[0] == "request" and resp[0] == rtype
        assert (
            req[1].get_header("WARC-Target-URI") == ex.url == resp[1].get_header("WARC-Target-URI")
        )
        # request and response name each other, and both name the file's warcinfo
        assert req[1].get_header("WARC-Concurrent-To") == resp[1].get_header("WARC-Record-ID")
        assert resp[1].get_header("WARC-Concurrent-To") == req[1].get_header("WARC-Record-ID")
        assert resp[1].get_header("WARC-Warcinfo-ID") == info_id
        assert resp[1].get_header("WARC-Date") == "2024-07-29T12:30:15.250000Z"
        assert resp[1].get_header("WARC-IP-Address") == "192.0.2.7"
        assert resp[1].get_header("WARC-Payload-Digest") == sha1_b32(ex.body)
        assert req[2].protocol == "GET" and req[2].get_header("Host") == ex.url.split("/")[2]
        assert resp[2].get_statuscode() == "200"
        if rtype == "response":
            assert resp[3] == ex.body  # stored exactly as the server sent it
        else:
            assert resp[3] == b""  # revisits carry headers only
            assert resp[1].get_header("WARC-Profile") == REVISIT_PROFILE
    assert pairs[0][0][2].statusline == "/page?q=1 HTTP/1.1"
    truncated = [p[1][1].get_header("WARC-Truncated") for p in pairs]
    assert truncated == [None, None, None, None, "length", None, None]


def test_revisits_point_at_the_original(written) -> None:
    directory, results, lookups = written
    dup, known = results[5], results[6]
    assert dup.record_type == "revisit" and dup.refers_to_uri == CASES[0].url
    assert dup.refers_to_date == WHEN
    assert known.record_type == "revisit"
    assert (known.refers_to_uri, known.refers_to_date) == KNOWN_ORIGIN
    # the in-memory hit never asked the lookup; the others did, once each
    assert sha1_b32(CASES[0].body) in lookups and lookups.count(sha1_b32(CASES[0].body)) == 1
    path = directory / dup.warc_file
    rec, _ = record_at(path, dup.offset, dup.length)
    assert rec.rec_headers.get_header("WARC-Refers-To-Target-URI") == CASES[0].url
    assert rec.rec_headers.get_header("WARC-Refers-To-Date") == "2024-07-29T12:30:15.250000Z"
    assert rec.rec_headers.get_header("WARC-Refers-To") == record_at(
        path, results[0].offset, results[0].length
    )[0].rec_headers.get_header("WARC-Record-ID")
    rec, _ = record_at(path, known.offset, known.length)
    assert rec.rec_headers.get_header("WARC-Refers-To-Target-URI") == KNOWN_ORIGIN[0]
    assert rec.rec_headers.get_header("WARC-Refers-To-Date") == "2023-01-02T03:04:05Z"
    assert rec.rec_headers.get_header("WARC-Refers-To") is None  # unknown to this writer


def test_offsets_and_lengths_address_single_records(written) -> None:
    directory, results, _ = written
    for ex, result in zip(CASES, results, strict=True):
        rec, payload = record_at(directory / result.warc_file, result.offset, result.length)
        assert rec.rec_type == result.record_type
        assert rec.rec_headers.get_header("WARC-Target-URI") == ex.url
        assert rec.rec_headers.get_header("WARC-Payload-Digest") == result.payload_digest
        assert payload == (ex.body if result.record_type == "response" else b"")
        assert result.truncated == ex.truncated
    listed = {(i.offset, i.length) for i in iter_records(directory / results[0].warc_file)}
    assert {(r.offset, r.length) for r in results} <= listed


def test_read_response_decodes_and_reports(written) -> None:
    directory, results, _ = written
    got = [read_response(directory, r.warc_file, r.offset) for r in results]
    assert got[0].payload == b"<html>plain page</html>" and got[0].status == 200
    assert got[1].payload == b"<html>compressed page</html>" * 20 and got[1].decoded
    assert got[2].payload == b"dechunked body"
    assert got[3].payload == PNG
    assert got[4].truncated and got[4].payload == b"x" * 100
    assert got[5].record_type == "revisit" and got[5].payload == b""
    assert got[5].refers_to_uri == CASES[0].url and got[5].refers_to_date == WHEN
    assert got[6].refers_to_date == KNOWN_ORIGIN[1]
    assert got[0].date == WHEN and got[0].url == CASES[0].url


def test_chunked_and_truncated_headers_are_rewritten(written) -> None:
    directory, results, _ = written
    chunked = read_response(directory, results[2].warc_file, results[2].offset)
    names = {k.lower(): v for k, v in chunked.headers}
    assert "transfer-encoding" not in names
    assert names["x-archive-orig-transfer-encoding"] == "chunked"
    assert names["content-length"] == str(len(b"dechunked body"))
    # warcio's own decoding path must not try to de-chunk the stored bytes
    with open(directory / results[2].warc_file, "rb") as fh:
        fh.seek(results[2].offset)
        record = next(iter(ArchiveIterator(fh)))
        assert record.content_stream().read() == b"dechunked body"
    cut = dict(read_response(directory, results[4].warc_file, results[4].offset).headers)
    assert cut["X-Archive-Orig-Content-Length"] == "5000" and cut["Content-Length"] == "100"


def test_warcio_check_passes(written) -> None:
    directory, _, _ = written
    for path in directory.glob("*.warc.gz"):
        result = warcio_check(path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert scan_valid_records(path) == (1 + 2 * len(CASES), path.stat().st_size)


def test_response_header_rules() -> None:
    kept = archive_response_headers((("Content-Length", "3"),), 3, status=200)
    assert kept == [("Content-Length", "3")]
    added = archive_response_headers((("Content-Type", "a/b"),), 7, status=200)
    assert added == [("Content-Type", "a/b"), ("Content-Length", "7")]
    doubled = archive_response_headers(
        (("Content-Length", "3"), ("Content-Length", "3")), 3, status=200
    )
    assert doubled.count(("Content-Length", "3")) == 1
    head = archive_response_headers((("Content-Length", "900"),), 0, status=200, method="HEAD")
    assert head == [("Content-Length", "900")]
    not_modified = archive_response_headers((("Content-Length", "900"),), 0, status=304)
    assert not_modified == [("Content-Length", "900")]
    injected = archive_response_headers((("X-Evil", "a\r\nSet-Cookie: b"),), 0, status=200)
    assert ("X-Evil", "a  Set-Cookie: b") in injected


def test_empty_bodies_are_not_deduplicated(tmp_path: Path) -> None:
    with SnapshotWriter(tmp_path) as writer:
        first = writer.write(exchange("https://a.example/r", b"", status=301, reason="Moved"))
        second = writer.write(exchange("https://b.example/r", b"", status=301, reason="Moved"))
    assert first.record_type == second.record_type == "response"


def test_naive_time_is_rejected() -> None:
    with pytest.raises(ValueError):
        exchange("https://a.example/", b"x", fetched_at=datetime(2024, 1, 1))


def test_decode_content_handles_chains_and_cuts() -> None:
    body = b"hello world " * 50
    deflated = zlib.compress(gzip.compress(body))
    assert decode_content(deflated, "gzip, deflate") == (body, True)
    cut = gzip.compress(body)[:40]
    partial, ok = decode_content(cut, "gzip")
    assert ok and body.startswith(partial)
    assert decode_content(b"not gzip", "gzip") == (b"not gzip", False)
    assert decode_content(b"raw", "zstd-unknown") == (b"raw", False)


def test_file_is_open_while_writing_and_renamed_on_close(tmp_path: Path) -> None:
    writer = SnapshotWriter(tmp_path, prefix="snap")
    assert list(tmp_path.iterdir()) == []  # nothing until the first write
    result = writer.write(exchange("https://a.example/", b"body"))
    assert [p.name for p in tmp_path.iterdir()] == [result.warc_file + OPEN_SUFFIX]
    assert recover_open_files(tmp_path) == []  # a live writer's file is not touched
    writer.close()
    assert [p.name for p in tmp_path.iterdir()] == [result.warc_file]
    assert result.warc_file.startswith("snap-") and writer.files_written == [result.warc_file]


def test_rotation_by_size(tmp_path: Path) -> None:
    bodies = [os.urandom(3000) for _ in range(7)]  # incompressible, so sizes are predictable
    limit = 8000
    with SnapshotWriter(tmp_path, max_file_bytes=limit) as writer:
        results = [
            writer.write(exchange(f"https://r.example/{i}", b)) for i, b in enumerate(bodies)
        ]
        again = writer.write(exchange("https://r.example/again", bodies[0]))
    files = sorted(tmp_path.iterdir())
    assert len(files) >= 3 and not any(p.name.endswith(OPEN_SUFFIX) for p in files)
    serials = [int(NAME_RE.match(p.name).group(1)) for p in files]  # type: ignore[union-attr]
    assert serials == sorted(serials) and len(set(serials)) == len(serials)
    assert {NAME_RE.match(p.name).group(2) for p in files} == {str(os.getpid())}  # type: ignore[union-attr]
    for path in files:
        infos = list(iter_records(path))
        assert infos[0].record_type == "warcinfo"
        exchanges = sum(1 for i in infos if i.record_type == "request")
        assert path.stat().st_size <= limit or exchanges == 1
        assert warcio_check(path).returncode == 0
    for i, r in enumerate(results):
        assert read_response(tmp_path, r.warc_file, r.offset).payload == bodies[i]
    assert again.record_type == "revisit" and again.warc_file != results[0].warc_file
    assert again.refers_to_uri == "https://r.example/0"


CHILD = textwrap.dedent(
    """
    import os, sys, time
    from datetime import datetime, timezone
    from pathlib import Path
    from archive.warc.writer import Exchange, SnapshotWriter

    COMPLETE = int(sys.argv[2])

    class Stalling(SnapshotWriter):
        # After COMPLETE exchanges, write all but the last 100 bytes of the next one (its
        # request record whole, its response cut), say so, then hang: the parent's
        # SIGKILL then lands in the middle of a record, every time.
        appended = 0

        def _append(self, data):
            Stalling.appended += 1
            if Stalling.appended <= 1 + COMPLETE:  # warcinfo + complete exchanges
                return super()._append(data)
            self._fh.write(data[:-100])
            print("MID", self._size, len(data), flush=True)
            time.sleep(600)

    writer = Stalling(Path(sys.argv[1]))
    for i in range(10_000):
        body = os.urandom(2000) + str(i).encode()
        writer.write(Exchange(
            url=f"https://crash.example/{i}", method="GET", request_headers=(),
            status=200, reason="OK", http_version="HTTP/1.1",
            response_headers=(("Content-Type", "application/octet-stream"),),
            body=body, truncated=False, fetched_at=datetime.now(timezone.utc),
            ip_address=None))
        print("WROTE", i, flush=True)
    """
)


def test_sigkill_mid_record_then_recover(tmp_path: Path) -> None:
    complete = 5
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), str(complete)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )
    watchdog = threading.Timer(120, proc.kill)  # bounds the test if the child misbehaves
    watchdog.start()
    try:
        assert proc.stdout is not None
        lines = []
        while not (line := proc.stdout.readline()).startswith("MID"):
            assert line, f"child ended early: {lines}"
            lines.append(line)
        _, before, exchange_size = line.split()
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert len(lines) == complete
    (leftover,) = tmp_path.glob("*.warc.gz.open")
    size = leftover.stat().st_size
    assert size == int(before) + int(exchange_size) - 100  # really killed mid-record
    # warcinfo, the complete exchanges, and the cut exchange's request (a whole record)
    records, valid = scan_valid_records(leftover)
    assert records == 1 + 2 * complete + 1
    assert int(before) < valid < size
    original = leftover.read_bytes()

    (report,) = recover_open_files(tmp_path)
    assert report.open_file == leftover.name
    assert (report.records_kept, report.bytes_dropped) == (records, size - valid)
    assert report.warc_file == leftover.name.removesuffix(OPEN_SUFFIX)
    final = tmp_path / report.warc_file
    assert final.stat().st_size == valid
    cut = (tmp_path / str(report.partial_file)).read_bytes()
    # kept + cut bytes are the original file, and the cut starts a gzip member
    assert final.read_bytes() + cut == original and cut[:2] == b"\x1f\x8b"
    assert not list(tmp_path.glob("*.open"))
    infos = list(iter_records(final))
    uris = [i.target_uri for i in infos if i.record_type == "response"]
    assert uris == [f"https://crash.example/{i}" for i in range(complete)]
    assert (infos[-1].record_type, infos[-1].target_uri) == (
        "request",
        f"https://crash.example/{complete}",
    )
    result = warcio_check(final)
    assert result.returncode == 0, result.stdout + result.stderr
    assert recover_open_files(tmp_path) == []  # nothing left to do


def test_scan_stops_at_corruption_and_at_any_chunk_size(tmp_path: Path) -> None:
    with SnapshotWriter(tmp_path) as writer:
        results = [
            writer.write(exchange(f"https://s.example/{i}", os.urandom(500))) for i in range(4)
        ]
    path = tmp_path / results[0].warc_file
    whole = scan_valid_records(path)
    assert whole == (9, path.stat().st_size)
    # members now straddle many reads
    assert scan_valid_records(path, chunk_size=7) == whole
    data = bytearray(path.read_bytes())
    data[results[2].offset + results[2].length // 2] ^= 0xFF  # damage the 3rd response
    damaged = tmp_path / "damaged.warc.gz"
    damaged.write_bytes(bytes(data))
    # warcinfo + 2 exchanges + the 3rd request survive; the damaged response ends the scan
    assert scan_valid_records(damaged) == (6, results[2].offset)


def test_recovery_of_a_file_with_nothing_valid(tmp_path: Path) -> None:
    junk = tmp_path / "rotwatch-20240101000000-00000-1.warc.gz.open"
    junk.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    (report,) = recover_open_files(tmp_path)
    assert report.warc_file is None and report.records_kept == 0
    assert report.bytes_dropped == len(b"\x1f\x8b\x08\x00 not really gzip")
    assert not junk.exists()
    assert (tmp_path / str(report.partial_file)).read_bytes().startswith(b"\x1f\x8b")


def test_recovery_of_a_cleanly_cut_file_drops_nothing(tmp_path: Path) -> None:
    with SnapshotWriter(tmp_path) as writer:
        result = writer.write(exchange("https://c.example/", b"whole"))
    final = tmp_path / result.warc_file
    final.rename(final.with_name(final.name + OPEN_SUFFIX))  # as if killed between records
    (report,) = recover_open_files(tmp_path)
    assert (report.records_kept, report.bytes_dropped, report.partial_file) == (3, 0, None)
    assert final.exists() and not list(tmp_path.glob("*.partial"))


def test_dates_keep_their_instant_across_zones(tmp_path: Path) -> None:
    tokyo = WHEN.astimezone(timezone(timedelta(hours=9)))
    with SnapshotWriter(tmp_path) as writer:
        r = writer.write(exchange("https://z.example/", b"z", fetched_at=tokyo))
    stored = read_response(tmp_path, r.warc_file, r.offset)
    assert stored.date == WHEN and stored.date.utcoffset() == timedelta(0)


def test_scan_rejects_a_record_whose_block_digest_is_wrong(tmp_path: Path) -> None:
    with SnapshotWriter(tmp_path) as writer:
        result = writer.write(exchange("https://d.example/", b"fine"))
    path = tmp_path / result.warc_file
    good = scan_valid_records(path)
    block = b"hello"
    forged = (
        b"WARC/1.1\r\nWARC-Type: resource\r\nWARC-Record-ID: <urn:uuid:0>\r\n"
        b"WARC-Block-Digest: " + payload_digest(b"other").encode() + b"\r\n"
        b"Content-Length: 5\r\n\r\n" + block + b"\r\n\r\n"
    )
    with open(path, "ab") as fh:  # a well-formed gzip member around a lying record
        fh.write(gzip.compress(forged))
    assert scan_valid_records(path) == good


def test_empty_open_file_of_a_live_process_is_left_alone(tmp_path: Path) -> None:
    live = tmp_path / f"rotwatch-20240101000000-00000-{os.getpid()}.warc.gz.open"
    live.write_bytes(b"")  # as between a writer's create and its lock
    assert recover_open_files(tmp_path) == [] and live.exists()
    dead = tmp_path / "rotwatch-20240101000000-00000-999999999.warc.gz.open"
    live.rename(dead)
    (report,) = recover_open_files(tmp_path)
    assert (report.warc_file, report.records_kept, report.bytes_dropped) == (None, 0, 0)
    assert report.partial_file is None and not dead.exists()


def test_writer_memory_of_digests_is_bounded(tmp_path: Path) -> None:
    known: dict[str, tuple[str, datetime]] = {}
    moment = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def exchange(url: str, body: bytes) -> Exchange:
        return Exchange(url=url, method="GET", request_headers=(), status=200, reason="OK",
                        http_version="HTTP/1.1", response_headers=(("Content-Type", "text/plain"),),
                        body=body, truncated=False, fetched_at=moment)

    with SnapshotWriter(tmp_path, lookup_digest=known.get, seen_limit=2) as writer:
        first = writer.write(exchange("http://a.example/1", b"one"))
        writer.write(exchange("http://a.example/2", b"two"))
        writer.write(exchange("http://a.example/3", b"three"))
        # "one" fell out of the writer's own memory and the store does not know it yet
        assert writer.write(exchange("http://a.example/4", b"one")).record_type == "response"
        known[first.payload_digest] = ("http://a.example/1", moment)  # the store has it now
        writer.write(exchange("http://a.example/5", b"five"))
        writer.write(exchange("http://a.example/6", b"six"))
        again = writer.write(exchange("http://a.example/7", b"one"))
        assert again.record_type == "revisit" and again.refers_to_uri == "http://a.example/1"


def test_reading_back_a_stored_gzip_bomb_is_bounded(tmp_path: Path) -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)
    moment = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    with SnapshotWriter(tmp_path) as writer:
        record = writer.write(Exchange(
            url="http://bomb.example/", method="GET", request_headers=(), status=200,
            reason="OK", http_version="HTTP/1.1",
            response_headers=(("Content-Encoding", "gzip"), ("Content-Type", "text/html")),
            body=bomb, truncated=False, fetched_at=moment))
    stored = read_response(tmp_path, record.warc_file, record.offset, limit=1_000_000)
    assert stored.decoded and len(stored.payload) == 1_000_000
