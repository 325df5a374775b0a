"""The report's time zone: `[report] timezone`, an IANA name or "local" (the machine's)."""

from __future__ import annotations

import os
from datetime import datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LOCAL = "local"


class UnknownZone(ValueError):
    """A time zone name that is not in the zone database; the message names it."""


def resolve_zone(name: str) -> tuple[tzinfo, str]:
    """The zone and the name to show for it. "local": $TZ, else /etc/localtime, else the
    offset the system uses now (a fixed offset: past times then keep today's offset)."""
    if name != LOCAL:
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError):
            raise UnknownZone(f"unknown time zone {name!r} (an IANA name such as "
                              "'Europe/Berlin', or 'local')") from None
    env = os.environ.get("TZ", "").lstrip(":")
    if env:
        try:
            return ZoneInfo(env), env
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a POSIX TZ rule string: fall back to what the system computes
    link = Path("/etc/localtime")
    if link.is_symlink():
        key = str(link.resolve()).partition("zoneinfo/")[2]
        try:
            return ZoneInfo(key), key
        except (ZoneInfoNotFoundError, ValueError):
            pass
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None  # astimezone() on a naive time always sets one
    return zone, datetime.now(zone).tzname() or "local time"
