"""A target's recent checks as a short code string: one letter per verdict, oldest first.

The store keeps this string on each target (`targets.recent_checks`), so a report shows a
link's history without reading its checks: the cost of a report does not grow with the
number of check passes. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from itertools import groupby

from core.records import Verdict

# How many checks the string keeps (the newest ones).
WINDOW = 64

# One letter per verdict. Never change a letter: stores keep them.
CODES: dict[Verdict, str] = {
    Verdict.OK: "o", Verdict.REDIRECTED: "r", Verdict.BROKEN: "b",
    Verdict.SERVER_ERROR: "s", Verdict.SOFT_404: "f", Verdict.BLOCKED: "k",
    Verdict.ROBOTS_DISALLOWED: "x", Verdict.TIMEOUT: "t", Verdict.DNS_FAILURE: "d",
    Verdict.CONNECTION_FAILED: "c", Verdict.TLS_ERROR: "l", Verdict.REDIRECT_LOOP: "p",
    Verdict.NOT_CHECKABLE: "n",
}
_VERDICTS = {code: verdict for verdict, code in CODES.items()}
_HEALTHY_CODES = tuple(code for verdict, code in CODES.items() if verdict.is_healthy)
_FAILURE_CODES = tuple(code for verdict, code in CODES.items() if verdict.is_failure)


class CheckClass(StrEnum):
    """What one check says about the link, for colour: it worked, it failed, or no word."""

    HEALTHY = "healthy"
    FAILURE = "failure"
    NEUTRAL = "neutral"  # blocked, robots, not checkable: says nothing either way
    UNKNOWN = "unknown"  # a letter this version does not know


def code_of(verdict: Verdict) -> str:
    return CODES[verdict]


def append(codes: str | None, verdict: Verdict) -> str:
    """The string after one more check: the new letter last, at most WINDOW letters."""
    return ((codes or "") + CODES[verdict])[-WINDOW:]


def class_of(code: str) -> CheckClass:
    verdict = _VERDICTS.get(code)
    if verdict is None:
        return CheckClass.UNKNOWN
    if verdict.is_healthy:
        return CheckClass.HEALTHY
    return CheckClass.FAILURE if verdict.is_failure else CheckClass.NEUTRAL


def verdict_of(code: str) -> str:
    verdict = _VERDICTS.get(code)
    return verdict.value if verdict else "unknown"


@dataclass(frozen=True)
class Run:
    """Consecutive checks of the same verdict: `start` is the index of the first, oldest = 0."""

    start: int
    length: int
    code: str


def runs(codes: str, last: int) -> tuple[Run, ...]:
    """The last `last` checks as runs of equal verdicts, oldest first."""
    shown = codes[-last:] if last > 0 else ""
    out: list[Run] = []
    start = 0
    for code, group in groupby(shown):  # in C: a report calls this once per link
        length = sum(1 for _ in group)
        out.append(Run(start, length, code))
        start += length
    return tuple(out)


@lru_cache(maxsize=4096)  # histories repeat across targets
def uptime(codes: str) -> float | None:
    """The share of informative checks that worked, in percent; None when none informed.

    Neutral checks (blocked, robots) are left out: a bot wall is not downtime.
    """
    healthy = sum(codes.count(code) for code in _HEALTHY_CODES)
    failed = sum(codes.count(code) for code in _FAILURE_CODES)
    return None if healthy + failed == 0 else round(100.0 * healthy / (healthy + failed), 1)
