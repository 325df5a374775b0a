"""The policy's knobs: `PolicyConfig`, validated on construction, built from a `[policy]`
TOML table (durations as days or "36h"/"3d"), and `DEFAULT_CONFIG`.

Split out of scheduler/policy.py; both names are still importable from `core.policy`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any

_DURATION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([hd])\s*$", re.IGNORECASE)
# Ten years: longer is surely a typo, and next_check_at would overflow datetime (year 9999)
# near 2.9 million days, in the middle of a check rather than at start-up.
MAX_INTERVAL = timedelta(days=3650)
MAX_COUNT = 1000  # dead_after_failures, recovered_checks
MAX_GROWTH = 100.0


def _grown(first: timedelta, growth: float, n: int, cap: timedelta) -> timedelta:
    """first × growth^(n-1), never beyond cap; a long streak's huge power just means the cap."""
    try:
        seconds = first.total_seconds() * growth ** max(n - 1, 0)
    except OverflowError:
        return cap
    return cap if seconds >= cap.total_seconds() else timedelta(seconds=seconds)


def _number(
    value: object, name: str, low: float, high: float = math.inf, *, whole: bool = False,
    cap: float = math.inf,
) -> float:
    """Check a numeric knob: a real number (bool is not one), whole if asked, in [low, high],
    and not above `cap`."""
    kinds = int if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
        kind = "an integer" if whole else "a finite number"
        raise ValueError(f"policy.{name} must be {kind}, got {value!r}")
    if not low <= value <= high:
        bounds = f"at least {low:g}" if high == math.inf else f"within [{low:g}, {high:g}]"
        raise ValueError(f"policy.{name} must be {bounds}, got {value!r}")
    if value > cap:  # a sanity limit on top of the meaningful range
        raise ValueError(f"policy.{name} must be at most {cap:g}, got {value!r}")
    return float(value)


def _parse_duration(value: object, name: str) -> timedelta:
    """A bare number is days; "36h" / "3d" carry their unit; a timedelta passes through."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(
                f'policy.{name}: cannot read {value!r} as a duration; use days (7) or "36h"/"3d"'
            )
        amount, unit = float(match.group(1)), match.group(2).lower()
    else:
        amount, unit = _number(value, name, -math.inf), "d"  # sign checked below
    if amount < 0:
        raise ValueError(f"policy.{name} must not be negative, got {value!r}")
    try:
        return timedelta(hours=amount) if unit == "h" else timedelta(days=amount)
    except OverflowError:
        raise ValueError(f"policy.{name} is too large: {value!r}") from None


@dataclass(frozen=True)
class PolicyConfig:
    """Every knob of the policy. Validated on construction, so a bad config fails at start-up."""

    dead_after_failures: int = 3
    dead_after_span: timedelta = timedelta(days=3)
    alive_interval: timedelta = timedelta(days=7)
    failing_first_retry: timedelta = timedelta(days=1)
    failing_growth: float = 2.0
    failing_max_interval: timedelta = timedelta(days=7)
    dead_interval: timedelta = timedelta(days=30)
    blocked_first_retry: timedelta = timedelta(days=1)
    blocked_growth: float = 2.0
    blocked_max_interval: timedelta = timedelta(days=14)
    new_delay: timedelta = timedelta(0)
    jitter_fraction: float = 0.1
    recovered_checks: int = 3

    def __post_init__(self) -> None:
        for name in _INTERVAL_FIELDS:  # a tuple, so the first bad field is always the same
            value = getattr(self, name)
            if not isinstance(value, timedelta):
                raise ValueError(f"policy.{name} must be a duration, got {value!r}")
            if value < timedelta(0):
                raise ValueError(f"policy.{name} must not be negative, got {value}")
            if name not in _MAY_BE_ZERO and value == timedelta(0):
                raise ValueError(f"policy.{name} must be greater than zero")
            if value > MAX_INTERVAL:
                raise ValueError(f"policy.{name} must be at most {MAX_INTERVAL.days} days "
                                 f"(ten years), got {value}")
        _number(self.dead_after_failures, "dead_after_failures", 1, whole=True, cap=MAX_COUNT)
        _number(self.recovered_checks, "recovered_checks", 0, whole=True, cap=MAX_COUNT)
        # A growth below 1 would shrink the interval as failures pile up.
        _number(self.failing_growth, "failing_growth", 1, cap=MAX_GROWTH)
        _number(self.blocked_growth, "blocked_growth", 1, cap=MAX_GROWTH)
        # Above one half, jitter could pull a check to (almost) right after the last one.
        _number(self.jitter_fraction, "jitter_fraction", 0, 0.5)
        if self.failing_max_interval < self.failing_first_retry:
            raise ValueError("policy.failing_max_interval must be >= failing_first_retry")
        if self.blocked_max_interval < self.blocked_first_retry:
            raise ValueError("policy.blocked_max_interval must be >= blocked_first_retry")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> PolicyConfig:
        """Build from a `[policy]` TOML table; omitted keys keep their defaults.

        Durations are a bare number of days (`7`, `0.5`) or a string with a unit:
        `"36h"` (hours) or `"3d"` (days). A `timedelta` is accepted as is.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in raw if k not in known)
        if unknown:
            raise ValueError(
                f"unknown policy key(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        values: dict[str, Any] = {
            name: _parse_duration(value, name) if name in _INTERVAL_FIELDS else value
            for name, value in raw.items()
        }
        return cls(**values)

    def failing_retry(self, failures: int) -> timedelta:
        """Wait after the n-th failure in a row: first retry × growth^(n-1), capped."""
        return _grown(
            self.failing_first_retry, self.failing_growth, failures, self.failing_max_interval
        )

    def blocked_backoff(self, neutral_checks: int) -> timedelta:
        """Wait after the n-th "cannot tell" in a row: first retry × growth^(n-1), capped."""
        return _grown(
            self.blocked_first_retry, self.blocked_growth, neutral_checks, self.blocked_max_interval
        )


# Derived from the annotations so a new duration field cannot be forgotten here.
_INTERVAL_FIELDS = tuple(f.name for f in fields(PolicyConfig) if f.type == "timedelta")
# Only these may be zero; for the others zero means "check again at once, forever".
_MAY_BE_ZERO = frozenset({"dead_after_span", "new_delay"})
DEFAULT_CONFIG = PolicyConfig()
