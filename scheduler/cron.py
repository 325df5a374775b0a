"""Standard 5-field cron expressions read into APScheduler triggers, weekdays counted as cron does.

Pure and light (APScheduler's trigger only): the config loader validates `[daemon]` schedules
with it, and the daemon builds its triggers with it, so both read an expression the same way.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo

from apscheduler.triggers.cron import CronTrigger

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")  # anchored, no nested repetition: linear
# The seconds field: numbers, ranges, lists and steps only (linear: one class repeated).
_RANGE_OR_STEP = re.compile(r"^[0-9*,/-]+$")


def _standard_day_of_week(weekday: str) -> str:
    """Numeric cron weekdays (0/7 = Sunday) → names, which APScheduler 3 reads the same way.

    APScheduler 3's from_crontab counts 0 as Monday, so "30 3 * * 0" would run on Mondays;
    names and explicit lists side-step that (its `*/2` also starts on Monday, hence the
    expansion of steps too).
    """
    out: list[str] = []
    for part in weekday.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else None
        if (step_text and step is None) or step == 0:
            raise ValueError(f"bad step in {part!r}")
        if base == "*":
            if step is None:
                return "*"
            low, high = 0, 6
        else:
            match = _RANGE.match(base)
            if match is None:
                out.append(part)  # names ("mon-fri"): APScheduler agrees with cron there
                continue
            low = int(match.group(1))
            high = int(match.group(2)) if match.group(2) else (6 if step else low)
        if not 0 <= low <= high <= 7:
            raise ValueError(f"day of week {part!r} is outside 0-7")
        out.extend(_DAY_NAMES[d % 7] for d in range(low, high + 1, step or 1))
    return ",".join(dict.fromkeys(out))


def parse_cron(expression: str, tz: tzinfo | None = None) -> CronTrigger:
    """A trigger from a standard crontab expression; ValueError says what is wrong.

    Six fields are read as a leading seconds field (as Quartz and node-cron have it), for
    schedules shorter than a minute: tests and demos of the daemon.
    """
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise ValueError(f"expected 5 fields (minute hour day month weekday), or 6 with "
                         f"seconds first, got {len(fields)}")
    second = fields.pop(0) if len(fields) == 6 else "0"
    minute, hour, day, month, weekday = fields
    if not _RANGE_OR_STEP.match(second):
        raise ValueError(f"bad seconds field {second!r}")
    return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                       day_of_week=_standard_day_of_week(weekday), timezone=tz)


def interval_after(trigger: CronTrigger, moment: datetime) -> timedelta | None:
    """The schedule's interval around `moment`: the gap between the two firings that
    follow it (for an irregular schedule, the gap that applies then); None if it stops."""
    first = trigger.get_next_fire_time(None, moment)
    if first is None:
        return None
    second = trigger.get_next_fire_time(first, first)
    return None if second is None else second - first


def check_cron(expression: str, now: datetime) -> None:
    """Raise ValueError unless `expression` parses and fires at least once after `now`
    ("0 0 31 2 *", February 31st, parses but never fires)."""
    trigger = parse_cron(expression, now.tzinfo)
    if trigger.get_next_fire_time(None, now) is None:
        raise ValueError("it never fires (no such date)")
