"""Snapshots whose WARC file is still `<name>.open`: readable during a crawl and after a crash.

A writer appends whole records to `<name>.warc.gz.open` and renames it on close, while the
store already names `<name>.warc.gz`. Every reader finds the `.open` file itself; after a
SIGKILL, `verify` and `export` recover it (when no check holds the store) and never touch
a file that a running crawl is still writing.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.store import Store
from archive.store.lock import WriterLock
from archive.warc.writer import OPEN_SUFFIX, Exchange, SnapshotWriter, iter_records, read_response
from rotwatch.fixity import verify
from tests.conftest import MockServer
from tests.helpers import REPO_ROOT, query, rotwatch, write_config

WHEN = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _exchange(url: str, body: bytes) -> Exchange:
    return Exchange(url=url, method="GET", request_headers=(), status=200, reason="OK",
                    http_version="HTTP/1.1", response_headers=(("Content-Type", "text/html"),),
                    body=body, truncated=False, fetched_at=WHEN)


def _held(path: Path) -> bool:
    """Whether some process holds the writer's flock on `path`."""
    with open(path, "rb") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False


def _warcio_uris(path: Path) -> list[str]:
    with open(path, "rb") as fh:
        return [r.rec_headers.get_header("WARC-Target-URI")
                for r in ArchiveIterator(fh, check_digests=True)
                if r.rec_type in ("response", "revisit")]


def test_a_record_of_a_file_still_being_written_is_read_in_place(tmp_path: Path) -> None:
    writer = SnapshotWriter(tmp_path)
    try:
        record = writer.write(_exchange("http://live.example/", b"<p>still open</p>"))
        assert (tmp_path / (record.warc_file + OPEN_SUFFIX)).exists()
        stored = read_response(tmp_path, record.warc_file, record.offset)
        assert stored.url == "http://live.example/" and stored.payload == b"<p>still open</p>"
    finally:
        writer.close()


def _dead_open_file(directory: Path, garbage: bytes = b"") -> tuple[str, int]:
    """A file as a SIGKILLed writer leaves it: whole records, maybe a cut one, `.open`."""
    with SnapshotWriter(directory) as writer:
        record = writer.write(_exchange("http://dead.example/", b"<p>before the kill</p>"))
    final = directory / record.warc_file
    dead = final.with_name(final.name + OPEN_SUFFIX)
    final.rename(dead)
    with open(dead, "ab") as fh:
        fh.write(garbage)
    return record.warc_file, record.offset


def test_a_dead_open_file_is_read_in_place_when_recovery_cannot_run(tmp_path: Path) -> None:
    warc_file, offset = _dead_open_file(tmp_path, b"\x1f\x8b\x08\x00cut short")
    stored = read_response(tmp_path, warc_file, offset)
    assert stored.payload == b"<p>before the kill</p>"
    assert (tmp_path / (warc_file + OPEN_SUFFIX)).exists()  # a reader changes nothing


# --------------------------------------------------------------------------- a real crawl


@dataclass(frozen=True)
class Crawl:
    data: Path
    config: Path
    proc: subprocess.Popen[bytes]
    urls: tuple[str, ...]  # the targets that answer at once (snapshotted mid-crawl)


@pytest.fixture
def crawl(mockserver: MockServer, tmp_path: Path) -> Iterator[Crawl]:
    """A `rotwatch check` caught mid-crawl: quick targets recorded, one still waiting."""
    urls = (mockserver.url("/page/open-1"), mockserver.url("/page/open-2", host=2))
    slow = mockserver.url("/slow?delay=60", host=3)
    seed = tmp_path / "seed.md"
    seed.write_text("".join(f"- [t{i}]({u})\n" for i, u in enumerate((*urls, slow))),
                    encoding="utf-8")
    # batch_size 1: each check is committed as it comes, as a long crawl's batches are.
    config = write_config(tmp_path / "rotwatch.toml", processes=1, batch_size=1, timeout=60,
                          retry_times=0, target_budget=120)
    data = tmp_path / "data"
    assert rotwatch(data, "ingest", str(seed), config=config).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "rotwatch", "--data-dir", str(data), "--config", str(config),
         "check", "--allow-private"], cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if (data / "rotwatch.db").exists() and _snapshots(data) >= len(urls):
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the crawl ended before the test could look at it"
        assert _snapshots(data) == len(urls), "no snapshot committed within 60 s"
        yield Crawl(data, config, proc, urls)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what it started
        proc.wait(timeout=30)


def _snapshots(data: Path) -> int:
    try:
        return int(query(data, "SELECT count(*) FROM snapshots")[0][0])
    except Exception:  # the schema may not exist yet in the first instants
        return 0


def _open_files(data: Path) -> list[Path]:
    return sorted((data / "warcs").glob(f"*{OPEN_SUFFIX}"))


def test_verify_and_export_during_a_crawl_leave_its_file_alone(crawl: Crawl,
                                                               tmp_path: Path) -> None:
    (live,) = _open_files(crawl.data)
    assert _held(live)
    checked = rotwatch(crawl.data, "verify", config=crawl.config)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "missing" not in checked.stdout
    out = tmp_path / "during.warc.gz"
    exported = rotwatch(crawl.data, "export", "-o", str(out), config=crawl.config)
    assert exported.returncode == 0, exported.stderr
    assert sorted(_warcio_uris(out)) == sorted(crawl.urls)
    # The crawl's file is still its own: same name, still locked, not cut.
    assert _open_files(crawl.data) == [live] and _held(live)
    assert crawl.proc.poll() is None


@pytest.mark.parametrize("command", ["export", "verify"])
def test_after_a_kill_the_reading_command_recovers_the_file(crawl: Crawl, tmp_path: Path,
                                                            command: str) -> None:
    (leftover,) = _open_files(crawl.data)
    os.killpg(crawl.proc.pid, signal.SIGKILL)
    crawl.proc.wait(timeout=30)
    assert leftover.exists() and not _held(leftover)
    out = tmp_path / "after.warc.gz"
    args = ["export", "-o", str(out)] if command == "export" else ["verify"]
    done = rotwatch(crawl.data, *args, config=crawl.config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "recovered" in done.stderr
    final = leftover.with_name(leftover.name.removesuffix(OPEN_SUFFIX))
    assert not leftover.exists() and final.exists()
    if command == "export":
        assert sorted(_warcio_uris(out)) == sorted(crawl.urls)
    # Every snapshot row points at a record warcio reads back, under the final name.
    rows = query(crawl.data, "SELECT url, warc_file, warc_offset FROM snapshots")
    for url, warc_file, offset in rows:
        assert warc_file == final.name
        assert read_response(crawl.data / "warcs", warc_file, offset).url == url
    again = rotwatch(crawl.data, "verify", config=crawl.config)
    assert again.returncode == 0 and "recovered" not in again.stderr, again.stdout


def _store_rows(data: Path, path: Path, warc_file: str) -> None:
    """Snapshot rows for the responses of `path`, as the recorder stores them."""
    with Store(data / "rotwatch.db") as store:
        for info in iter_records(path):
            if info.record_type != "response":
                continue
            target = store.db.table("targets").insert({
                "key": info.target_uri, "url": info.target_uri, "host": "dead.example",
                "checkable": 1, "first_seen_at": WHEN.isoformat()}).last_pk
            store.db.table("snapshots").insert({
                "target_id": target, "fetched_at": WHEN.isoformat(), "url": info.target_uri,
                "warc_file": warc_file, "warc_offset": info.offset, "warc_length": info.length,
                "payload_digest": info.payload_digest, "record_type": "response"})


def test_while_a_check_holds_the_store_a_dead_file_is_read_not_recovered(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    warc_dir = data / "warcs"
    warc_dir.mkdir(parents=True)
    warc_file, _ = _dead_open_file(warc_dir)
    leftover = warc_dir / (warc_file + OPEN_SUFFIX)
    _store_rows(data, leftover, warc_file)
    with open(leftover, "ab") as fh:
        fh.write(b"\x1f\x8b\x08\x00cut short")  # the record the kill interrupted
    config = write_config(tmp_path / "rotwatch.toml")
    with WriterLock(data / "archive.store.lock", "check"):  # as a running check holds it
        done = rotwatch(data, "verify", config=config)
    assert leftover.exists()  # left for the next check, which recovers it under the lock
    assert "missing" not in done.stdout and "Traceback" not in done.stderr
    # The record checks out; the cut tail after it is reported once, naming the file.
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith(f"{leftover.name}@") and "snapshot" not in line
    with Store(data / "rotwatch.db") as store:
        result = verify(store, warc_dir)
    assert [(p.warc_file, p.snapshot_id) for p in result.problems] == [(leftover.name, None)]
    assert result.snapshots == 1 and result.files == 1
