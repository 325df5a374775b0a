"""Output files (`export -o`, `report -o`, `report --configured`) are written whole or not at all.

A full disk is a real one as far as the writer can tell: the command runs in a child process
whose RLIMIT_FSIZE makes every write past the limit fail with EFBIG. Afterwards the command
has exited 1 naming the file, left no temporary file, and the previous output is intact.
"""

from __future__ import annotations

import os
import random
import resource
import signal
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.store import CheckRow, SnapshotRow, Store
from archive.warc.atomic import OutputError, atomic_output, write_text_atomic
from archive.warc.writer import Exchange, SnapshotWriter
from core.records import Hop, Judgement, Observation, Verdict
from tests.helpers import REPO_ROOT, rotwatch

WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Above what a read-only command writes elsewhere (SQLite's 32 KiB -shm file), far below
# the outputs below (an export of 1 MB, reports of a few hundred KB).
FSIZE_LIMIT = 256 * 1024
OLD = b"the previous output, which must survive\n"


def _entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --------------------------------------------------------------------------- the helper


def test_a_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.html"
    write_text_atomic(target, "first")
    assert target.read_text() == "first"
    target.chmod(0o640)  # a mode the user chose is kept across rewrites
    write_text_atomic(target, "second")
    assert target.read_text() == "second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert _entries(target.parent) == ["report.html"]


def test_a_new_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "r.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.txt").stat().st_mode) == 0o644  # not mkstemp's 0600


@pytest.mark.parametrize("error", [ValueError("a bug mid-write"), KeyboardInterrupt()])
def test_any_error_removes_the_temp_file_and_keeps_the_target(tmp_path: Path,
                                                              error: BaseException) -> None:
    target = tmp_path / "export.warc.gz"
    target.write_bytes(OLD)
    with pytest.raises(type(error)), atomic_output(target) as fh:
        fh.write(b"half of a new export")
        raise error
    assert target.read_bytes() == OLD
    assert _entries(tmp_path) == ["export.warc.gz"]


def test_data_and_directory_are_synced_around_the_rename(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_text_atomic(tmp_path / "r.json", "{}")
    assert calls == ["fsync file", "rename", "fsync dir"]


def test_an_os_error_names_the_file(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where a directory should be")
    with pytest.raises(OutputError) as raised:
        write_text_atomic(blocked / "r.html", "x")
    assert str(blocked / "r.html") in str(raised.value)
    assert isinstance(raised.value, OSError)


# --------------------------------------------------------------------------- a full disk


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with 1,500 cited links and one snapshot of an incompressible 1 MB page."""
    base = tmp_path_factory.mktemp("full-disk")
    seed = base / "article.md"
    seed.write_text("# Sources\n\n" + "".join(
        f"- [source number {i} of the article]"
        f"(https://site{i % 40}.example/a/rather/long/path/to/document-{i}.html)\n"
        for i in range(1500)), encoding="utf-8")
    data = base / "data"
    assert rotwatch(data, "ingest", str(seed)).returncode == 0
    url = "https://site1.example/a/rather/long/path/to/document-1.html"
    body = random.Random(13).randbytes(1_000_000)
    with SnapshotWriter(data / "warcs") as writer:
        record = writer.write(Exchange(
            url=url, method="GET", request_headers=(), status=200, reason="OK",
            http_version="HTTP/1.1", response_headers=(("Content-Type", "text/html"),),
            body=body, truncated=False, fetched_at=WHEN))
    with Store(data / "rotwatch.db") as store:
        target = store.db.conn.execute("SELECT id FROM targets WHERE url = ?", [url]).fetchone()
        snap = SnapshotRow(fetched_at=WHEN, url=url, warc_file=record.warc_file,
                           warc_offset=record.offset, warc_length=record.length,
                           payload_digest=record.payload_digest, record_type="response",
                           mime="text/html", title=None, text="", truncated=False)
        row = CheckRow(target[0], WHEN, Observation(url=url, hops=(Hop(url, 200),)),
                       Judgement(Verdict.OK, "ok"), snapshot=snap)
        store.transaction(lambda: store.insert_checks([row], None))
    return data


def _small_disk() -> None:
    # Without SIG_IGN the kernel would kill the child with SIGXFSZ instead of failing write().
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FSIZE_LIMIT, FSIZE_LIMIT))


def _on_a_small_disk(data: Path, *args: str,
                     config: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "rotwatch", "--data-dir", str(data)]
    if config is not None:
        command += ["--config", str(config)]
    return subprocess.run([*command, *args], preexec_fn=_small_disk, capture_output=True,
                          text=True, timeout=120, cwd=REPO_ROOT, stdin=subprocess.DEVNULL)


def _assert_failed_cleanly(done: subprocess.CompletedProcess[str], target: Path) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert target.read_bytes() == OLD
    assert _entries(target.parent) == [target.name]  # no temp or .partial file left
    assert f"cannot write {target}: File too large" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_export_on_a_full_disk(data: Path, tmp_path: Path) -> None:
    target = tmp_path / "export.warc.gz"
    target.write_bytes(OLD)
    _assert_failed_cleanly(_on_a_small_disk(data, "export", "-o", str(target)), target)
    done = rotwatch(data, "export", "-o", str(target))  # with room, the same export works
    assert done.returncode == 0, done.stderr
    with open(target, "rb") as fh:
        assert [r.rec_type for r in ArchiveIterator(fh)] == ["warcinfo", "response"]


@pytest.mark.parametrize("fmt", ["html", "csv", "json"])
def test_report_on_a_full_disk(data: Path, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"report.{fmt}"
    target.write_bytes(OLD)
    done = _on_a_small_disk(data, "report", "--state", "new", "--format", fmt, "-o",
                            str(target))
    _assert_failed_cleanly(done, target)
    done = rotwatch(data, "report", "--state", "new", "--format", fmt, "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert os.path.getsize(target) > FSIZE_LIMIT  # the test did need more than the limit


def test_configured_reports_on_a_full_disk(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    config = tmp_path / "rotwatch.toml"
    config.write_text(f'[report]\ndirectory = "{out}"\nformats = ["html"]\n', encoding="utf-8")
    target = out / "rotwatch-report.html"
    target.write_bytes(OLD)
    done = _on_a_small_disk(data, "report", "--configured", "--state", "new", config=config)
    _assert_failed_cleanly(done, target)
