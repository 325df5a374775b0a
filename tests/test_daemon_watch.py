"""The daemon an operator can watch: a real `rotwatch daemon` process writes its heartbeat
and each job's numbers to the store, speaks sd_notify to a real unix datagram socket, runs
ingest before a check that fires in the same second, and `status` / `status --check`
notice when it stalls (SIGSTOP) and when it stops (SIGTERM)."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from archive.store import DaemonRow, RunRow
from rotwatch.cli import cli
from rotwatch.daemon_health import DaemonStatus, check_freshness, daemon_health
from scheduler.cron import interval_after, parse_cron
from scheduler.jobs import ChildOutcome
from scheduler.notify import Notifier, NotifySettings, take_notify_environment
from scheduler.summaries import CheckNumbers, child_report
from tests.conftest import REPO_ROOT, MockServer

PY = sys.executable
NEVER = "0 0 1 1 *"  # once a year: out of the way of a short test


def _wait_for(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def _rows(store: Path, sql: str) -> list[dict[str, Any]]:
    try:
        with sqlite3.connect(store, timeout=2) as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute(sql)]
    except sqlite3.Error:  # not created yet, or locked for longer than the timeout
        return []


class Datagrams:
    """A real AF_UNIX datagram socket, as systemd listens on, collecting notify messages."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.2)
        self.messages: list[dict[str, str]] = []

    def drain(self) -> list[dict[str, str]]:
        while True:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                return self.messages
            self.messages.append(dict(line.split("=", 1) for line in
                                      data.decode().splitlines()))

    def having(self, key: str, value: str | None = None) -> list[dict[str, str]]:
        return [m for m in self.drain() if key in m and (value is None or m[key] == value)]


@pytest.fixture
def notify_socket() -> Iterator[tuple[str, Datagrams]]:
    # '@' + name: Linux's abstract namespace, as systemd may hand out.
    name = f"rotwatch-test-{os.getpid()}-{time.monotonic_ns()}"
    listener = Datagrams(b"\0" + name.encode())
    yield "@" + name, listener
    listener.sock.close()


def _status(config: Path, data: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), "--data-dir", str(data),
                                      "status", *args])
    return result.exit_code, result.output


def test_a_real_daemon_is_observable_notifies_and_is_caught_stalling(
        tmp_path: Path, mockserver: MockServer, notify_socket: tuple[str, Datagrams]) -> None:
    address, listener = notify_socket
    data = tmp_path / "data"
    seed = tmp_path / "post.md"
    seed.write_text(f"# Post\n\nSee [home]({mockserver.url('/', host=1)}) and "
                    f"[gone]({mockserver.url('/status/404', host=1)}).\n")
    config = tmp_path / "rotwatch.toml"
    # Ingest and check fire in the same second: ingest must go first, so the first check
    # already has the seed's links. Seconds-field cron keeps the test short.
    config.write_text(f'[ingest]\nseeds = ["{seed}"]\n'
                      '[crawl]\nobey_robots = false\ndelay_per_host = 0\n'
                      'soft404_probe = false\nprocesses = 1\n'
                      '[daemon]\ningest_cron = "*/5 * * * * *"\ncheck_cron = "*/5 * * * * *"\n'
                      f'report_cron = "{NEVER}"\nmaintenance_cron = "{NEVER}"\n'
                      'heartbeat_seconds = 1\nshutdown_grace_seconds = 20\n')
    env = {**os.environ, "NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"}
    log = tmp_path / "daemon.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [PY, "-m", "rotwatch", "--config", str(config), "--data-dir", str(data), "daemon",
             "--allow-private", "--log-format", "json"],
            cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=err, env=env)
    store = data / "rotwatch.db"
    try:
        ready = _wait_for(lambda: listener.having("READY", "1"), 60,
                          f"READY=1; log:\n{log.read_text()}")
        assert ready[0]["MAINPID"] == str(proc.pid) and "next:" in ready[0]["STATUS"]
        finished = _wait_for(lambda: listener.drain() and _rows(
            store, "SELECT * FROM daemon_jobs WHERE job='check' AND finished_at IS NOT NULL"),
            120, "a finished check")[0]
        # At once: the check just ended, well within twice its 5 s interval.
        code, out = _status(config, data, "--check")
        assert code == 0 and out.startswith("ok: the last check run"), out

        # The numbers, in the store, the log and systemd's status line alike.
        assert re.fullmatch(r"check finished: 2 checked, 1 broken, 0 dead, [\d.]+ s",
                            finished["summary"]), finished
        assert finished["outcome"] == "failing"  # a first 404: failing, not dead
        assert finished["fired_by"] == "schedule"
        assert listener.having("STATUS", finished["summary"])
        lines = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
        ended = [e for e in lines if e["message"] == finished["summary"]]
        assert ended and ended[0]["status"] == "failing" and ended[0]["checked"] == 2
        assert not any(e.get("status") == "dead-links" for e in lines)

        # Ingest ran first in that firing; the child check says who started it.
        runs = {r["kind"]: r for r in _rows(store, "SELECT * FROM runs ORDER BY id DESC")}
        assert runs["daemon-ingest"]["ended_at"] <= runs["check"]["started_at"]
        assert runs["check"]["trigger"] == "daemon"
        assert json.loads(runs["check"]["counts"])["checked"] == 2

        code, out = _status(config, data, "--format", "json")
        assert code == 0, out
        shown = json.loads(out)
        assert shown["daemon"]["status"] == "running" and shown["daemon"]["pid"] == proc.pid
        assert shown["jobs"]["check"]["last"]["outcome"] == "failing"
        assert shown["jobs"]["check"]["last"]["counts"]["checked"] == 2
        code, out = _status(config, data)
        assert code == 0 and f"daemon: running (pid {proc.pid}" in out, out
        assert len(listener.having("WATCHDOG", "1")) >= 2  # every 0.5 s, half of 1 s

        # Stalled: the process exists but does nothing; heartbeat and checks stop.
        proc.send_signal(signal.SIGSTOP)
        try:
            _wait_for(lambda: json.loads(_status(config, data, "--format", "json")[1])
                      ["daemon"]["status"] == DaemonStatus.STALLED, 60, "a stalled daemon")
            code, out = _wait_for(lambda: (lambda r: r if r[0] == 2 else None)(
                _status(config, data, "--check")), 60, "status --check to exit 2")
            assert out.startswith("attention: the last check run") and \
                "more than twice the check interval (5 s)" in out, out
            assert out.count("\n") == 1  # one line
        finally:
            proc.send_signal(signal.SIGCONT)
        stopping = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert time.monotonic() - stopping < 40
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert listener.having("STOPPING", "1")
    code, out = _status(config, data, "--format", "json")
    assert json.loads(out)["daemon"]["status"] == "stopped"
    assert "SIGTERM" in json.loads(out)["daemon"]["line"]


# ---- sd_notify, in-process with a real socket ------------------------------------------------

def test_notifier_sends_datagrams_and_reads_systemds_environment(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    listener = Datagrams(path)
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "42", "X": "1"}
    settings = take_notify_environment(env, pid=42)
    assert settings == NotifySettings(path, 2.0) and env == {"X": "1"}  # children get none
    notifier = Notifier(settings)
    notifier.ready("waiting")
    notifier.watchdog()
    notifier.status("check finished: 1 checked,\n0 broken")  # one line per field
    notifier.stopping("stopping on SIGTERM")
    assert listener.drain() == [
        {"READY": "1", "STATUS": "waiting", "MAINPID": str(os.getpid())}, {"WATCHDOG": "1"},
        {"STATUS": "check finished: 1 checked, 0 broken"},
        {"STOPPING": "1", "STATUS": "stopping on SIGTERM"}]
    listener.sock.close()
    notifier.watchdog()  # systemd gone: logged once, never raised
    # The watchdog is another process's, or the socket is not systemd's: no pings.
    assert NotifySettings.from_environment(
        {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "7"}, 42
    ).watchdog_seconds is None
    assert NotifySettings.from_environment({"NOTIFY_SOCKET": "relative"}, 1).socket_path is None
    assert not Notifier(NotifySettings()).enabled


# ---- health rules (pure) and the seconds field -------------------------------------------------

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _daemon(beat_ago: float, stopped: bool = False, host: str = "here") -> DaemonRow:
    beat = (NOW - timedelta(seconds=beat_ago)).isoformat(timespec="seconds")
    return DaemonRow(1, 4242, host, "2026-12-01T10:00:00+00:00", beat, 30.0,
                     beat if stopped else None, "SIGTERM" if stopped else None)


@pytest.mark.parametrize(("row", "alive", "status", "words"), [
    (None, True, DaemonStatus.NONE, "no daemon has run"),
    (_daemon(10), True, DaemonStatus.RUNNING, "last heartbeat 10 s ago"),
    (_daemon(200), True, DaemonStatus.STALLED, "stalled (pid 4242 on here; last heartbeat"),
    (_daemon(10), False, DaemonStatus.GONE, "gone without stopping"),
    (_daemon(10, host="elsewhere"), False, DaemonStatus.RUNNING, "on elsewhere"),
    (_daemon(5, stopped=True), True, DaemonStatus.STOPPED, "on SIGTERM"),
])
def test_daemon_health(row: DaemonRow | None, alive: bool, status: DaemonStatus,
                       words: str) -> None:
    health = daemon_health(row, NOW, this_host="here", alive=lambda pid: alive)
    assert health.status is status and words in health.line


def _check_run(ended_ago: float | None, started_ago: float = 3600) -> RunRow:
    def at(ago: float) -> str:
        return (NOW - timedelta(seconds=ago)).isoformat(timespec="seconds")

    return RunRow(7, "check", "cron", at(started_ago),
                  None if ended_ago is None else at(ended_ago),
                  "ok" if ended_ago is not None else "running", 2, 1, None, None)


@pytest.mark.parametrize(("run", "ok", "words"), [
    (_check_run(ended_ago=19 * 60), True, "ok: the last check run 7 (cron) ended 19 min ago"),
    (_check_run(ended_ago=21 * 60), False, "more than twice the check interval (10 min)"),
    (_check_run(None, started_ago=300), True, "running since 5 min"),
    (_check_run(None, started_ago=3600), False, "running since 60 min"),
    (None, False, "no check run is recorded"),
])
def test_check_freshness_is_twice_the_interval(run: RunRow | None, ok: bool,
                                               words: str) -> None:
    fresh = check_freshness(run, timedelta(minutes=10), NOW)
    assert fresh.ok is ok and words in fresh.line, fresh.line


def test_cron_takes_a_leading_seconds_field_and_knows_its_interval() -> None:
    assert interval_after(parse_cron("*/10 * * * *", UTC), NOW) == timedelta(minutes=10)
    assert interval_after(parse_cron("*/5 * * * * *", UTC), NOW) == timedelta(seconds=5)
    assert interval_after(parse_cron("0 9,17 * * *", UTC), NOW) == timedelta(hours=16)
    with pytest.raises(ValueError, match="seconds first"):
        parse_cron("* * * *", UTC)
    with pytest.raises(ValueError, match="seconds"):
        parse_cron("x * * * * *", UTC)


def test_status_on_a_store_without_daemon_or_checks(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("")
    code, out = _status(config, tmp_path / "d")
    assert code == 0 and "daemon: not running (no daemon has run on this store)" in out, out
    assert "never run by a daemon" in out
    code, out = _status(config, tmp_path / "d", "--check")
    assert code == 2 and out == ("attention: no check run is recorded; the check schedule "
                                 "is every 10 min\n"), out
    code, out = _status(config, tmp_path / "d", "--check", "--format", "json")
    assert code == 2 and json.loads(out)["ok"] is False


def test_a_check_started_by_cron_is_labelled_cron(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[crawl]\nprocesses = 1\n")
    base = [PY, "-m", "rotwatch", "--config", str(config), "--data-dir", str(tmp_path / "d")]
    done = subprocess.run([*base, "check"], capture_output=True, text=True, timeout=120,
                          cwd=REPO_ROOT, env={**os.environ, "ROTWATCH_TRIGGER": "cron"})
    assert done.returncode == 0, done.stderr
    assert [r["trigger"] for r in _rows(tmp_path / "d" / "rotwatch.db",
                                        "SELECT * FROM runs")] == ["cron"]
    bad = CliRunner().invoke(cli, ["--trigger", "sometimes", "status"])
    assert bad.exit_code != 0 and "'sometimes' is not one of" in bad.output


# ---- the line each job ends with (pure) ----------------------------------------------------------

def _run_row(counts: dict[str, int]) -> RunRow:
    return RunRow(9, "check", "daemon", "2026-12-01T11:00:00+00:00",
                  "2026-12-01T11:00:41+00:00", "ok", 2, 77, json.dumps(counts), None)


@pytest.mark.parametrize(("code", "states", "outcome", "line"), [
    (2, {"failing": 2, "alive": 7}, "failing", "check finished: 9 checked, 2 broken, 0 dead, 41 s"),
    (2, {"dead": 1, "failing": 1, "alive": 7}, "dead",
     "check finished: 9 checked, 2 broken, 1 dead, 41 s"),
    (0, {"alive": 9}, "ok", "check finished: 9 checked, 2 broken, 0 dead, 41 s"),
])
def test_a_check_ends_with_its_numbers(code: int, states: dict[str, int], outcome: str,
                                       line: str) -> None:
    # 2 broken: a 404 (broken) and a DNS failure; blocked says nothing either way.
    run = _run_row({"checked": 9, "recorded": 9, "ok": 6, "broken": 1, "dns-failure": 1,
                    "blocked": 1})
    report = child_report("check", [ChildOutcome(code, 77)], 41.2,
                          CheckNumbers.of(run, states))
    assert (report.outcome, report.summary) == (outcome, line)
    assert report.counts["check_run_id"] == 9 and report.message is None
    assert report.level == logging.INFO


def test_other_job_endings_say_what_happened() -> None:
    ingest = child_report("ingest", [ChildOutcome(0, 5, "x\ningested 2 seed(s): 2 new, 0 "
                                                        "changed, 0 unchanged; 7 link(s); "
                                                        "0 problem(s)")], 2.25)
    assert ingest.summary == ("ingest finished: ingested 2 seed(s): 2 new, 0 changed, 0 "
                              "unchanged; 7 link(s); 0 problem(s), 2.2 s")
    crashed = child_report("check", [ChildOutcome(1, 5, "boom"), ChildOutcome(1, 6, "boom")],
                           3.0)
    assert crashed.summary == "check finished: failed (exit 1) after 2 attempt(s), 3.0 s"
    assert crashed.level == logging.ERROR and crashed.message == "exit 1; boom"
    busy = child_report("check", [ChildOutcome(3, 5)], 0.5)
    assert busy.outcome == "busy" and busy.level == logging.WARNING
    stopped = child_report("check", [ChildOutcome(-15, 5, interrupted=True)], 12.0)
    assert stopped.summary == ("check finished: interrupted (killed by SIGTERM) after 1 "
                               "attempt(s), 12 s")
    assert child_report("report", [ChildOutcome(2, 5)], 1.0).outcome == "attention"


def test_a_store_that_cannot_be_written_costs_one_log_line_not_the_daemon(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from scheduler.state import DaemonState

    blocker = tmp_path / "file"
    blocker.write_text("")
    state = DaemonState(blocker / "data" / "rotwatch.db", pid=1, heartbeat_seconds=1)
    with caplog.at_level(logging.INFO, logger="rotwatch.daemon"):
        state.register()
        for _ in range(3):
            state.beat()  # retries the registration; still failing: no more lines
        state.job_finished("check", outcome="ok", exit_code=0, counts=None, summary="x")
    assert state.daemon_id is None
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "could not record the daemon's start" in caplog.records[0].getMessage()
    good = DaemonState(tmp_path / "data" / "rotwatch.db", pid=2, heartbeat_seconds=1)
    good.register()
    good.beat()
    assert _rows(tmp_path / "data" / "rotwatch.db", "SELECT pid FROM daemons") == [{"pid": 2}]
