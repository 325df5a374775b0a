"""`rotwatch status`: what the store holds, whether the daemon runs, what each job last did.

`status --check` is the monitoring form (cron, Nagios-style): one line, exit 0 when checks
run on schedule, 2 when the last one is older than twice the check interval.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, Protocol

import click

from archive.store import DaemonJobRow, Store, StoreBusyError, StoreError
from core.escaping import json_safe, one_line
from core.exitcodes import exit_code
from rotwatch.config import Config
from rotwatch.daemon_health import check_freshness, daemon_health

JOB_ORDER = ("ingest", "check", "report", "maintenance")


class _HasConfig(Protocol):
    config: Config


def _alive(pid: int) -> bool:
    """Does a process with this pid exist here? (Signal 0 checks without sending.)"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's process
    return True


def gather(config: Config, now: datetime) -> dict[str, Any]:
    """Everything `status` shows, as one JSON-ready mapping."""
    from scheduler.schedule import check_interval, next_fire_times

    with Store(config.store_path) as store:
        counts = store.counts()
        states = store.target_states()
        runs = store.recent_runs(5)
        daemon = store.latest_daemon()
        jobs = {row.job: row for row in store.daemon_jobs()}
        last_check = store.last_check_run()
    health = daemon_health(daemon, now, this_host=socket.gethostname(), alive=_alive)
    local_now = now.astimezone()
    fires = next_fire_times(config, local_now)
    fresh = check_freshness(last_check, check_interval(config, last_check_moment(
        last_check, local_now)), now)
    return {
        "store": str(config.store_path),
        "counts": counts,
        "states": dict(sorted(states.items())),
        "daemon": {"status": health.status.value, "line": health.line,
                   "heartbeat_age_seconds": None if health.heartbeat_age is None
                   else round(health.heartbeat_age.total_seconds(), 1),
                   **(asdict(daemon) if daemon else {})},
        "jobs": {job: {"last": _job(jobs.get(job)),
                       "next": fires[job].isoformat() if job in fires else None}
                 for job in JOB_ORDER},
        "check": {"ok": fresh.ok, "line": fresh.line,
                  "last_at": fresh.last_at.isoformat() if fresh.last_at else None,
                  "interval_seconds": fresh.interval.total_seconds() if fresh.interval
                  else None},
        "runs": [asdict(r) | {"counts": json.loads(r.counts) if r.counts else None}
                 for r in runs],
    }


def last_check_moment(run: Any, fallback: datetime) -> datetime:
    """Where the check interval is measured: from the last check run's start (the
    schedule's gap then), or from now when there is none."""
    if run is None:
        return fallback
    return datetime.fromisoformat(run.started_at).astimezone(fallback.tzinfo)


def _job(row: DaemonJobRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return asdict(row) | {"counts": json.loads(row.counts) if row.counts else None}


def _text(info: dict[str, Any]) -> list[str]:
    lines = [f"store: {one_line(info['store'])}",
             "  " + "  ".join(f"{name}={n}" for name, n in info["counts"].items())]
    if info["states"]:
        lines.append("targets by state: " + ", ".join(f"{s}={n}" for s, n in
                                                      info["states"].items()))
    lines.append(f"daemon: {one_line(info['daemon']['line'])}")
    lines.append("jobs:")
    for job, entry in info["jobs"].items():
        last = entry["last"]
        if last is None:
            did = "never run by a daemon"
        elif last["finished_at"] is None:
            did = f"running since {last['started_at']} ({last['fired_by']})"
        else:
            did = f"{last['outcome']} at {last['finished_at']}: {one_line(last['summary'])}"
        nxt = entry["next"]
        when = f"next {datetime.fromisoformat(nxt):%Y-%m-%d %H:%M:%S %Z}" if nxt else "no next"
        lines.append(f"  {job:<12} {did}; {when}")
    lines.append(f"check schedule: {one_line(info['check']['line'])}")
    for r in info["runs"]:
        lines.append(f"run {r['id']}: {r['kind']} ({r['trigger']}) {r['started_at']} → "
                     f"{r['ended_at'] or '…'} {r['status']} exit={r['exit_code']} "
                     f"{one_line(json.dumps(r['counts'])) if r['counts'] else ''}".rstrip())
    return lines


@click.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@click.option("--check", "monitor", is_flag=True,
              help="Monitoring: one line; exit 2 when the last check run is older than "
                   "twice the check schedule's interval (a stalled daemon), else 0.")
@click.pass_obj
def status(obj: _HasConfig, fmt: str, monitor: bool) -> None:
    """Show the store's counts and states, the daemon and what each job last did.

    \b
    Example:
      rotwatch --data-dir ./data status --format json
      rotwatch --data-dir /var/lib/rotwatch status --check   # for cron or Nagios
    """
    now = datetime.now(UTC)
    try:
        info = gather(obj.config, now)
    except StoreError as exc:
        click.echo(f"rotwatch: {one_line(str(exc))}", err=True)
        sys.exit(exit_code(busy=isinstance(exc, StoreBusyError), error=True))
    if monitor:
        check = info["check"]
        if fmt == "json":
            click.echo(json_safe(json.dumps(check, ensure_ascii=False)))
        else:
            click.echo(one_line(check["line"]))
        sys.exit(exit_code(attention=not check["ok"]))
    fleet = obj.config.cluster
    if fmt == "json":
        if fleet.enabled:  # the fleet's nodes and shards (rotwatch/cluster/)
            from rotwatch.cluster.status import fleet_status

            info["fleet"] = fleet_status(obj.config)
        click.echo(json_safe(json.dumps(info, ensure_ascii=False, default=str)))
    else:
        for line in _text(info):
            click.echo(line)
        if fleet.enabled:
            from rotwatch.cluster.status import fleet_lines

            for line in fleet_lines(obj.config):
                click.echo(one_line(line))
