"""`rotwatch daemon`: schedules, crash retries, busy store, and a real daemon process
that checks links, survives a crashing job and stops cleanly on SIGTERM mid-crawl."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from archive.store.lock import WriterLock
from rotwatch.cli import cli
from rotwatch.config import Config, DaemonConfig, load_config
from scheduler.daemon import (
    Daemon,
    DaemonError,
    DaemonOptions,
    cron_trigger,
    next_fire_times,
    validate,
)
from scheduler.jobs import ChildRunner, RetryPolicy, run_with_retries
from scheduler.maintenance_job import maintain
from tests.conftest import REPO_ROOT, MockServer

PY = sys.executable


def _config(**daemon: Any) -> Config:
    return Config(data_dir=Path("/nonexistent"), daemon=DaemonConfig(**daemon))


# ---- schedules (pure) ---------------------------------------------------------------------

def test_next_fire_times_from_the_cron_expressions() -> None:
    now = datetime(2024, 7, 29, 10, 7, 30, tzinfo=UTC)  # a Monday
    fires = next_fire_times(_config(), now)
    assert fires == {
        "ingest": datetime(2024, 7, 29, 10, 30, tzinfo=UTC),
        "check": datetime(2024, 7, 29, 10, 10, tzinfo=UTC),
        "report": datetime(2024, 7, 30, 6, 15, tzinfo=UTC),
        # "30 3 * * 0" is Sunday in cron, although APScheduler 3 alone reads 0 as Monday.
        "maintenance": datetime(2024, 8, 4, 3, 30, tzinfo=UTC),
    }
    assert next_fire_times(_config(check_cron="* * * * *"), now)["check"] == datetime(
        2024, 7, 29, 10, 8, tzinfo=UTC)


@pytest.mark.parametrize(("weekday", "expected"), [
    ("1-5", ["mon", "tue", "wed", "thu", "fri"]),
    ("*/2", ["sun", "tue", "thu", "sat"]),
    ("7", ["sun"]),
    ("mon,3", ["mon", "wed"]),
])
def test_weekday_numbers_follow_cron(weekday: str, expected: list[str]) -> None:
    monday = datetime(2024, 7, 29, tzinfo=UTC)
    trigger = cron_trigger(f"0 12 * * {weekday}", "check_cron", UTC)
    seen: list[str] = []
    fire = trigger.get_next_fire_time(None, monday)
    for _ in range(len(expected)):  # bounded: one firing per expected day
        assert fire is not None
        seen.append(fire.strftime("%a").lower())
        fire = trigger.get_next_fire_time(fire, fire.replace(hour=13))
    assert sorted(seen) == sorted(expected)


@pytest.mark.parametrize("bad", ["* * * *", "61 * * * *", "* * * * 9", "banana", "*/0 * * * *"])
def test_a_bad_cron_expression_names_its_key(bad: str) -> None:
    with pytest.raises(DaemonError, match="report_cron"):
        next_fire_times(_config(report_cron=bad), datetime(2024, 1, 1, tzinfo=UTC))


def test_start_refuses_bad_config_and_unwritable_data_dir(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[daemon]\ncheck_cron = "*/10 * * *"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "--data-dir",
                                      str(tmp_path / "d"), "daemon"])
    assert result.exit_code == 1
    assert "check_cron" in result.output and "5 fields" in result.output
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DaemonError, match="not writable"):
        validate(load_config(None, blocker / "data"))


# ---- child runs, retries, shutdown --------------------------------------------------------

def _python(code: str) -> list[str]:
    # Three leading items, as the daemon's own `python -m rotwatch …` command lines have.
    return [PY, "-c", code, "child"]


FAST = RetryPolicy(retries=2, wait_initial=0.01, wait_max=0.05)


@pytest.mark.parametrize(("code", "attempts", "status"), [
    ("raise SystemExit(1)", 3, "failed"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", 3, "failed"),
    ("raise SystemExit(2)", 1, "attention"),
    ("raise SystemExit(3)", 1, "busy"),
    ("raise SystemExit(0)", 1, "ok"),
])
def test_only_crashes_are_retried(code: str, attempts: int, status: str) -> None:
    runner = ChildRunner(threading.Event(), grace_seconds=2, poll_seconds=0.05)
    outcomes = run_with_retries(runner, _python(code), 10, FAST, "test")
    assert len(outcomes) == attempts
    assert outcomes[-1].status == status


def test_timeout_and_shutdown_stop_a_child_sigkill_after_the_grace() -> None:
    stop = threading.Event()
    runner = ChildRunner(stop, grace_seconds=0.5, poll_seconds=0.05)
    started = time.monotonic()
    timed = run_with_retries(runner, _python("import time; time.sleep(30)"), 0.3, FAST, "t")
    assert [o.status for o in timed] == ["timeout"]  # not retried: it would only repeat
    assert timed[0].returncode == -signal.SIGTERM
    stubborn = ("import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('ready', flush=True); time.sleep(30)")
    threading.Timer(0.5, stop.set).start()
    outcome = run_with_retries(runner, _python(stubborn), 20, FAST, "t")[-1]
    assert outcome.interrupted and outcome.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 5
    # Once stopping, a retry does not start another child.
    assert run_with_retries(runner, _python("pass"), 5, FAST, "t")[0].spawned is False


def test_busy_store_is_recorded_not_retried(tmp_path: Path) -> None:
    config = load_config(None, tmp_path / "data")
    config = replace(config, daemon=replace(config.daemon, vacuum=True))
    validate(config)
    worker = Daemon(config, DaemonOptions(allow_private=True, retry=FAST))
    with WriterLock(config.lock_path, "test run"):
        worker.job_check()
        with pytest.raises(Exception, match="busy"):
            maintain(config.store_path, config.lock_path, vacuum=True)
    worker.job_maintenance()  # free again: checkpoint + VACUUM
    rows = _runs(config.store_path)
    assert [(r["kind"], r["status"], r["exit_code"]) for r in rows] == [
        ("daemon-check", "busy", 3), ("daemon-maintenance", "ok", 0)]
    assert json.loads(rows[0]["counts"])["attempts"] == 1
    assert "vacuum_seconds" in json.loads(rows[1]["counts"])


def _runs(store: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(store) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM runs ORDER BY id")]


# ---- a real daemon process ----------------------------------------------------------------

def _wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def _count(store: Path, sql: str) -> int:
    try:
        with sqlite3.connect(store, timeout=2) as db:
            return int(db.execute(sql).fetchone()[0])
    except sqlite3.Error:
        return 0


def test_daemon_process_checks_survives_a_crash_and_stops_mid_crawl(
        tmp_path: Path, mockserver: MockServer) -> None:
    data = tmp_path / "data"
    seed = tmp_path / "post.md"
    seed.write_text(f"# Post\n\nSee [home]({mockserver.url('/', host=1)}), "
                    f"[gone]({mockserver.url('/status/404', host=1)}) and "
                    f"[slow]({mockserver.url('/slow?delay=10', host=2)}).\n")
    config = tmp_path / "rotwatch.toml"
    # The configured seeds do not exist: every daemon ingest exits 1 (a crash, retried once).
    config.write_text(f'[ingest]\nseeds = ["{tmp_path / "missing"}"]\n'
                      '[crawl]\nobey_robots = false\ndelay_per_host = 0\n'
                      # batch_size 1: each verdict is committed at once, so the test sees
                      # the fast links land while /slow is still in flight.
                      'soft404_probe = false\nbatch_size = 1\n'
                      # Only --run-now runs here: a cron firing at a minute boundary
                      # would start a second chain beside it (its check took the
                      # stop signal's place in the assertions below: flaky).
                      '[daemon]\ncheck_cron = "0 0 1 1 *"\ningest_cron = "0 0 1 1 *"\n'
                      'crash_retries = 1\n'
                      'shutdown_grace_seconds = 20\n')
    base = [PY, "-m", "rotwatch", "--config", str(config), "--data-dir", str(data)]
    done = subprocess.run([*base, "ingest", str(seed)], capture_output=True, text=True,
                          timeout=60, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    log = tmp_path / "daemon.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [PY, "-m", "rotwatch", "--config", str(config), "--data-dir", str(data), "daemon",
             "--allow-private", "--log-format", "json", "--run-now"],
            cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=err)
    try:
        store = data / "rotwatch.db"
        # The fast links are recorded while /slow is still in flight: mid-crawl.
        _wait_for(lambda: _count(store, "SELECT count(*) FROM checks") >= 2, 40,
                  f"two checks; log:\n{log.read_text()}")
        assert proc.poll() is None, "the daemon died after the ingest job crashed"
        assert _count(store, "SELECT count(*) FROM checks") < 3
        stopping = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
        assert time.monotonic() - stopping < 30
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    runs = _runs(store)
    by_kind: dict[str, dict[str, Any]] = {}
    for r in runs:
        assert r["kind"] not in by_kind, f"a second {r['kind']} run: {runs}"
        by_kind[r["kind"]] = r
    ingest = by_kind["daemon-ingest"]
    assert ingest["status"] == "failed" and ingest["exit_code"] == 1
    assert json.loads(ingest["counts"])["attempts"] == 2
    assert by_kind["daemon-check"]["status"] == "interrupted"
    assert by_kind["daemon-check"]["trigger"] == "daemon"
    crawl = by_kind["check"]  # the child's own row: it closed gracefully and recorded all
    assert crawl["status"] == "ok" and crawl["ended_at"]
    assert crawl["trigger"] == "daemon"  # started by the daemon, not `manual`
    assert json.loads(crawl["counts"])["checked"] == 3
    assert _count(store, "SELECT count(*) FROM checks") == 3
    assert all(r["ended_at"] for r in runs)
    # every WARC closed (no .open left); indexes/ holds their CDXJ index
    warcs = sorted(p.name for p in (data / "warcs").iterdir() if p.is_file())
    assert warcs and all(name.endswith(".warc.gz") for name in warcs), warcs
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert any(e.get("job") == "check" and e.get("status") == "interrupted" for e in lines)
    assert any("SIGTERM" in e["message"] for e in lines)
