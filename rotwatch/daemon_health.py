"""Is the daemon alive, and is checking on schedule? Judged from the store's rows at `now`.

Pure but for what the caller passes in: the clock, this host's name, and whether a pid is
alive here. `rotwatch status` shows the answers; `status --check` exits on the second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from archive.store import DaemonRow, RunRow
from archive.store.db import from_db

MISSED_BEATS = 3  # heartbeats missed before a daemon is called stalled
_TIME_GRAIN = timedelta(seconds=1)  # stored times have whole seconds


class DaemonStatus(StrEnum):
    RUNNING = "running"
    STALLED = "stalled"  # its process may exist, but it has stopped beating
    GONE = "gone"  # its process no longer exists on this host, and it never said it stopped
    STOPPED = "stopped"
    NONE = "none"  # no daemon has ever run on this store


@dataclass(frozen=True)
class DaemonHealth:
    status: DaemonStatus
    line: str
    heartbeat_age: timedelta | None = None


@dataclass(frozen=True)
class CheckFreshness:
    ok: bool
    line: str
    last_at: datetime | None = None
    interval: timedelta | None = None


def span(value: timedelta) -> str:
    """A short human duration: "41 s", "12 min", "3 h 5 min", "2 d 4 h"."""
    seconds = max(0, int(value.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def stale_after(row: DaemonRow) -> timedelta:
    return timedelta(seconds=MISSED_BEATS * row.heartbeat_seconds) + _TIME_GRAIN


def daemon_health(row: DaemonRow | None, now: datetime, *, this_host: str,
                  alive: Callable[[int], bool]) -> DaemonHealth:
    if row is None:
        return DaemonHealth(DaemonStatus.NONE, "not running (no daemon has run on this store)")
    beat = from_db(row.heartbeat_at)
    age = now - beat if beat else None
    who = f"pid {row.pid} on {row.host}"
    if row.stopped_at:
        return DaemonHealth(DaemonStatus.STOPPED, f"not running ({who} stopped at "
                            f"{row.stopped_at} on {row.stop_reason or 'request'})", age)
    last = f"last heartbeat {span(age)} ago" if age is not None else "no heartbeat"
    if row.host == this_host and not alive(row.pid):
        return DaemonHealth(DaemonStatus.GONE, f"not running ({who} is gone without "
                            f"stopping; {last})", age)
    if age is None or age > stale_after(row):
        return DaemonHealth(DaemonStatus.STALLED, f"not running / stalled ({who}; {last}, "
                            f"expected every {span(timedelta(seconds=row.heartbeat_seconds))})",
                            age)
    return DaemonHealth(DaemonStatus.RUNNING, f"running ({who} since {row.started_at}; "
                        f"{last})", age)


def check_freshness(last: RunRow | None, interval: timedelta | None,
                    now: datetime) -> CheckFreshness:
    """Attention when the last check (running, or ended with a result) is older than twice
    the check schedule's interval: the daemon (or cron) has stopped checking."""
    if interval is None:
        return CheckFreshness(False, "attention: the check schedule (check_cron) never fires "
                              "again")
    every = f"the check schedule is every {span(interval)}"
    if last is None:
        return CheckFreshness(False, f"attention: no check run is recorded; {every}",
                              interval=interval)
    ended = from_db(last.ended_at)
    moment = ended or from_db(last.started_at) or now  # started_at is NOT NULL
    what = (f"check run {last.id} ({last.trigger}) ended {span(now - moment)} ago" if ended
            else f"check run {last.id} ({last.trigger}) running since {span(now - moment)}")
    if now - moment > 2 * interval + _TIME_GRAIN:
        return CheckFreshness(False, f"attention: the last {what}, more than twice the check "
                              f"interval ({span(interval)}): is the daemon stalled?",
                              moment, interval)
    return CheckFreshness(True, f"ok: the last {what}; {every}", moment, interval)
