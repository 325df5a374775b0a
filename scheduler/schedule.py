"""When the daemon's jobs fire: triggers from the `[daemon]` cron settings, next firings,
and the check interval `rotwatch status --check` measures a stalled daemon against."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from apscheduler.triggers.cron import CronTrigger

from scheduler.cron import interval_after, parse_cron
from scheduler.host import DaemonHost

JOBS = ("ingest", "check", "report", "maintenance")  # also the order --run-now uses


class DaemonError(Exception):
    """A configuration or environment problem found at start; the message says which."""


def cron_trigger(expression: str, key: str, tz: tzinfo | None = None) -> CronTrigger:
    """A trigger from a standard 5-field crontab expression; DaemonError names the key."""
    try:
        return parse_cron(expression, tz)
    except ValueError as exc:
        raise DaemonError(f"[daemon] {key} = {expression!r} is not a valid cron "
                          f"expression: {exc}") from None


def local_zone() -> tzinfo | None:
    """The zone cron expressions are read in: the system's, as cron does."""
    return None  # CronTrigger/BlockingScheduler resolve None to the local zone (tzlocal)


def triggers(config: DaemonHost, tz: tzinfo | None = None) -> dict[str, CronTrigger]:
    daemon = config.daemon
    expressions = {"ingest": daemon.ingest_cron, "check": daemon.check_cron,
                   "report": daemon.report_cron, "maintenance": daemon.maintenance_cron}
    return {job: cron_trigger(expr, f"{job}_cron", tz) for job, expr in expressions.items()}


def next_fire_times(config: DaemonHost, now: datetime,
                    tz: tzinfo | None = None) -> dict[str, datetime]:
    """When each daemon job fires next after `now` (aware); cron read in `tz`, default
    now's zone. Pure: the clock is a parameter. Raises DaemonError on a bad expression."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    result: dict[str, datetime] = {}
    for job, trigger in triggers(config, tz or now.tzinfo).items():
        fire = trigger.get_next_fire_time(None, now)
        if fire is not None:
            result[job] = fire
    return result


def check_interval(config: DaemonHost, moment: datetime) -> timedelta | None:
    """The check schedule's interval after `moment` (aware): "*/10 * * * *" is 10 minutes."""
    trigger = cron_trigger(config.daemon.check_cron, "check_cron", moment.tzinfo)
    return interval_after(trigger, moment)


def fire_times_text(config: DaemonHost, now: datetime) -> list[str]:
    """Lines for `rotwatch status`: "check  2024-07-29 10:10 (in 0:04:12)"."""
    return [f"{job:<12} {fire:%Y-%m-%d %H:%M %Z} (in {str(fire - now).split('.')[0]})"
            for job, fire in sorted(next_fire_times(config, now).items(),
                                    key=lambda item: item[1])
            if fire - now >= timedelta(0)]
