"""docs/deploy/: the systemd units and the crontab line are well-formed and run rotwatch."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scheduler.daemon import cron_trigger

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy"
UNITS = ("rotwatch.service", "rotwatch-check.service", "rotwatch-check.timer")
INSTALLED = "/opt/rotwatch/venv/bin/rotwatch"  # the path the units document


def _unit(name: str) -> configparser.ConfigParser:
    # strict=False: systemd allows repeated keys; interpolation off: `%` is systemd's.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are CamelCase
    parser.read_string((DEPLOY / name).read_text(encoding="utf-8"), source=name)
    return parser


def _exec_start(name: str) -> list[str]:
    return shlex.split(_unit(name)["Service"]["ExecStart"])


def test_daemon_service_runs_the_daemon() -> None:
    argv = _exec_start("rotwatch.service")
    assert Path(argv[0]).name == "rotwatch" and "daemon" in argv
    service = _unit("rotwatch.service")["Service"]
    assert service["Type"] == "notify" and service["KillSignal"] == "SIGTERM"
    # The daemon pings at half the watchdog period (tests/test_daemon_watch.py).
    assert int(service["WatchdogSec"]) >= 30 and service["NotifyAccess"] == "main"
    assert "SuccessExitStatus" not in service  # only 0: 2 and 3 are the one-shot commands'
    assert service["RestartPreventExitStatus"].split() == ["64"]  # a bad command line
    # Longer than the default shutdown_grace_seconds (30), or systemd kills mid-flush.
    assert int(service["TimeoutStopSec"]) > 30
    assert _unit("rotwatch.service")["Install"]["WantedBy"] == "multi-user.target"


def test_timer_alternative_runs_rotwatch_run() -> None:
    argv = _exec_start("rotwatch-check.service")
    assert Path(argv[0]).name == "rotwatch" and argv[-1] == "run"
    service = _unit("rotwatch-check.service")["Service"]
    assert service["Type"] == "oneshot"
    # 2 (links need attention) and 3 (busy) are the job working; 1 and 64 never are.
    assert set(service["SuccessExitStatus"].split()) == {"2", "3"}
    assert "ROTWATCH_TRIGGER=timer" in service["Environment"]
    timer = _unit("rotwatch-check.timer")
    assert timer["Timer"]["OnCalendar"]
    assert timer["Timer"]["Unit"] == "rotwatch-check.service"
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_crontab_line_is_a_valid_schedule_running_rotwatch() -> None:
    lines = [line for line in (DEPLOY / "crontab").read_text().splitlines()
             if line.strip() and not line.startswith("#") and "=" not in line.split()[0]]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    cron_trigger(" ".join(fields[:5]), "crontab")  # raises if the schedule is invalid
    command = shlex.split(fields[5])
    assert "ROTWATCH_TRIGGER=cron" in (DEPLOY / "crontab").read_text().splitlines()
    assert Path(command[0]).name == "rotwatch" and "run" in command


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    # verify insists ExecStart exists: point the copies at this venv's rotwatch.
    here = Path(sys.executable).parent / "rotwatch"
    if not here.exists():
        pytest.skip(f"no rotwatch executable at {here} to verify the units against")
    for name in UNITS:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace(INSTALLED, str(here)), encoding="utf-8")
    done = subprocess.run([tool, "verify", *(str(tmp_path / n) for n in UNITS)],
                          capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    if done.returncode != 0 and ("System has not been booted" in output
                                 or "Failed to initialize manager" in output
                                 or "Failed to connect" in output):
        pytest.skip(f"systemd-analyze cannot run here: {output.strip()[:200]}")
    assert done.returncode == 0, output
    assert "rotwatch" not in output, output  # any warning names one of our units


def test_scrapyd_node_unit_runs_scrapyd_with_the_shared_dir_writable() -> None:
    argv = _exec_start("scrapyd.service")
    assert Path(argv[0]).name == "scrapyd" and "--pidfile=" in argv
    service = _unit("scrapyd.service")["Service"]
    assert service["KillMode"] == "control-group"  # the crawls stop with their node
    assert "/mnt/rotwatch-shared" in service["ReadWritePaths"].split()
    conf = configparser.ConfigParser()
    conf.read_string((DEPLOY / "scrapyd.conf").read_text(encoding="utf-8"))
    assert conf["scrapyd"].getint("max_proc_per_cpu") == 1
