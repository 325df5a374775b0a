"""A store whose write lock another connection holds: a bounded wait, then exit 3 and one
line naming the store, never a traceback; nothing recorded before is lost."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.store.db import BUSY_TIMEOUT_ENV, DEFAULT_BUSY_TIMEOUT, StoreError, busy_timeout
from core.exitcodes import ExitCode
from tests.helpers import REPO_ROOT, query

WAIT = 2.0  # the budget the child gets: short, so the test is quick


def _rotwatch(data_dir: Path, *args: str, wait: float = WAIT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, BUSY_TIMEOUT_ENV: str(wait)}
    return subprocess.run([sys.executable, "-m", "rotwatch", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=120, cwd=REPO_ROOT, env=env,
                          stdin=subprocess.DEVNULL)


def _seed(path: Path, *urls: str) -> Path:
    path.write_text("# Notes\n\n" + "".join(f"See [{u}]({u}).\n\n" for u in urls),
                    encoding="utf-8")
    return path


def test_held_write_lock_is_the_busy_error_then_the_next_run_succeeds(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = _seed(tmp_path / "first.md", "https://a.example/1", "https://a.example/2")
    assert _rotwatch(data, "ingest", str(first)).returncode == 0
    before = query(data, "SELECT url FROM targets ORDER BY url")
    store = data / "rotwatch.db"

    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process mid-write, as long as it likes
    try:
        second = _seed(tmp_path / "second.md", "https://b.example/1")
        started = time.monotonic()
        done = _rotwatch(data, "ingest", str(second))
        waited = time.monotonic() - started
        # `check` records its run before crawling: busy too, and nothing is fetched.
        checked = _rotwatch(data, "check", "--all")
        # Readers are not blocked by a writer (WAL): `links` still works meanwhile.
        shown = _rotwatch(data, "links", "--format", "json")
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert done.returncode == ExitCode.BUSY, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("rotwatch:")]
    assert len(lines) == 1 and str(store) in lines[0] and "busy" in lines[0], done.stderr
    # It did wait (the budget), and not much longer: start-up is ~1 s, 10x slack for CI.
    assert WAIT * 0.9 <= waited < WAIT + 20, waited
    assert checked.returncode == ExitCode.BUSY and "Traceback" not in checked.stderr
    assert shown.returncode == 0 and "https://a.example/1" in shown.stdout, shown.stderr

    again = _rotwatch(data, "ingest", str(second))
    assert again.returncode == 0, again.stderr
    after = query(data, "SELECT url FROM targets ORDER BY url")
    assert set(before) < set(after) and ("https://b.example/1",) in after
    assert query(data, "PRAGMA integrity_check") == [("ok",)]


def test_busy_timeout_default_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BUSY_TIMEOUT_ENV, raising=False)
    assert busy_timeout() == DEFAULT_BUSY_TIMEOUT == 30.0
    monkeypatch.setenv(BUSY_TIMEOUT_ENV, "0.5")
    assert busy_timeout() == 0.5
    for bad in ("abc", "0", "-1", "inf", "nan", "1e9"):
        monkeypatch.setenv(BUSY_TIMEOUT_ENV, bad)
        with pytest.raises(StoreError, match=BUSY_TIMEOUT_ENV):
            busy_timeout()


def test_bad_busy_timeout_is_a_one_line_error(tmp_path: Path) -> None:
    env = {**os.environ, BUSY_TIMEOUT_ENV: "forever"}
    done = subprocess.run([sys.executable, "-m", "rotwatch", "--data-dir", str(tmp_path / "d"),
                           "status"], capture_output=True, text=True, timeout=120,
                          cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == ExitCode.ERROR and "Traceback" not in done.stderr
    assert BUSY_TIMEOUT_ENV in done.stderr
