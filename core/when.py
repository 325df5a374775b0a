"""Times for people: a stored UTC time shown in the reader's zone, and ages in words.

Pure: the zone and `now` are parameters.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import lru_cache

# (from this many seconds on, count in, unit): days up to two months ("dead for 45
# days" says more than "1 month"), then months up to two years, then years.
_UNITS = ((730 * 86400, 365 * 86400, "year"), (60 * 86400, 30 * 86400, "month"),
          (86400, 86400, "day"), (3600, 3600, "hour"), (60, 60, "minute"))


def parse(value: str | None) -> datetime | None:
    """A stored time (ISO 8601, UTC); None for no value or one that does not parse."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


@lru_cache(maxsize=4096)  # a report shows the same few check times again and again
def local(value: str | None, zone: tzinfo) -> str:
    """'2026-03-01 13:00 CET' in `zone`; '' when there is no time."""
    moment = parse(value)
    if moment is None:
        return ""
    shown = moment.astimezone(zone)
    return f"{shown:%Y-%m-%d %H:%M} {shown.tzname() or ''}".rstrip()


def age(seconds: float) -> str:
    """'12 days', '3 hours', 'less than a minute': the largest whole unit."""
    for start, size, name in _UNITS:
        if seconds >= start:
            n = int(seconds // size)
            return f"{n} {name}" + ("s" if n != 1 else "")
    return "less than a minute"


def since(value: str | None, now: datetime) -> str:
    """The age of a stored time at `now`, in words; '' when there is no time."""
    moment = parse(value)
    return age(max(0.0, (now - moment).total_seconds())) if moment else ""


_STATE_AGE = {"dead": "dead for {}", "failing": "failing for {}", "changed": "changed {} ago",
              "moved": "moved {} ago", "recovered": "working again for {}",
              "blocked": "blocked for {}", "alive": "working for {}", "new": "waiting for {}"}


@lru_cache(maxsize=4096)
def state_age(state: str, state_since: str | None, now: datetime) -> str:
    """'dead for 12 days'; '' when the state has no start time."""
    span = since(state_since, now)
    pattern = _STATE_AGE.get(state)
    return pattern.format(span) if span and pattern else ""
