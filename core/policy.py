"""When is a link dead, and when do we look at it again: a pure function of its check history.

False alarms are what make people stop trusting a link checker, so "dead" follows
InternetArchiveBot's rule: several failures in a row, spread over days, with no healthy
check in between. Blocked / robots-disallowed / not-checkable checks say nothing about
the link, so they neither count towards "dead" nor reset the count. Nothing here reads
the clock or a global random source: `now` is always passed in and jitter comes from a
hash of the target, so the same inputs always give the same answer.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from core.policy_config import DEFAULT_CONFIG, PolicyConfig
from core.records import Verdict


class State(StrEnum):
    """What we currently believe about a target. Closed: every history maps to exactly one."""

    NEW = "new"  # never checked
    ALIVE = "alive"
    MOVED = "moved"  # alive, but reached through a permanent redirect
    CHANGED = "changed"  # alive, but the content drifted from what was cited
    FAILING = "failing"  # has failed, not (yet) enough evidence to call it dead
    DEAD = "dead"
    BLOCKED = "blocked"  # the latest word is "we cannot tell" (403/429, robots, unsupported)
    RECOVERED = "recovered"  # healthy again after failing; kept visible for a few checks


@dataclass(frozen=True)
class PastCheck:
    """One past check of one target: what the store keeps of it and the policy reads."""

    checked_at: datetime
    verdict: Verdict
    permanent_redirect: bool = False
    drifted: bool = False

    def __post_init__(self) -> None:
        # Mixing naive and aware datetimes only fails later, in a comparison; fail here.
        _require_aware(self.checked_at, "checked_at")


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


@dataclass(frozen=True)
class Assessment:
    """The policy's reading of a history.

    `consecutive_failures` and `first_failure_at` describe the current failure streak
    (0 / None when the latest informative check was healthy). `last_failure_at` and
    `last_ok_at` are the most recent failing / healthy checks anywhere in the history,
    so a recovered link can still say when it last failed. `state_since` is the check
    at which the current state began (None for a new target).
    """

    state: State
    consecutive_failures: int = 0
    first_failure_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_ok_at: datetime | None = None
    state_since: datetime | None = None


@dataclass(frozen=True)
class Tally:
    """Running summary of a history prefix, folded one entry at a time by `_step`."""

    streak: int = 0  # failures since the last healthy check (neutral ones skipped)
    streak_first: datetime | None = None
    last_failure_at: datetime | None = None
    last_ok_at: datetime | None = None
    healthy_run: int = 0  # healthy checks since the last failure
    last_healthy: PastCheck | None = None
    trailing_neutral: int = 0  # neutral checks since the last informative one


def _step(t: Tally, entry: PastCheck) -> Tally:
    at = entry.checked_at  # Tally is built positionally below, in its declared field order
    if entry.verdict.is_failure:
        first = t.streak_first if t.streak else at
        return Tally(t.streak + 1, first, at, t.last_ok_at, 0, t.last_healthy, 0)
    if entry.verdict.is_healthy:
        return Tally(0, None, t.last_failure_at, at, t.healthy_run + 1, entry, 0)
    # Neutral: the link may be fine or gone; we simply did not learn anything.
    return replace(t, trailing_neutral=t.trailing_neutral + 1)


def _informative_state(t: Tally, config: PolicyConfig) -> State:
    """The state judged from informative checks alone; trailing neutral ones are ignored."""
    if t.last_failure_at is None and t.last_ok_at is None:
        return State.BLOCKED if t.trailing_neutral else State.NEW
    if t.streak:
        # The streak's last failure is the latest failure of all.
        assert t.streak_first is not None and t.last_failure_at is not None
        spread = t.last_failure_at - t.streak_first
        if t.streak >= config.dead_after_failures and spread >= config.dead_after_span:
            return State.DEAD
        return State.FAILING
    if t.last_failure_at is not None and t.healthy_run <= config.recovered_checks:
        return State.RECOVERED
    assert t.last_healthy is not None
    # A permanent redirect is the more actionable news (update the link), so it wins.
    if t.last_healthy.permanent_redirect:
        return State.MOVED
    if t.last_healthy.drifted:
        return State.CHANGED
    return State.ALIVE


def _state(t: Tally, config: PolicyConfig) -> State:
    base = _informative_state(t, config)
    # After a failure streak a 403 does not make the link any better, so failing/dead
    # stand; but "alive" is no longer something we can vouch for once we are blocked.
    blocked_now = t.trailing_neutral and base not in (State.FAILING, State.DEAD)
    return State.BLOCKED if blocked_now else base


@dataclass(frozen=True)
class Summary:
    """All the policy keeps of a history: judging it, or it with one more check, needs
    nothing else. Folding a history one check at a time (`extend`) is how `link_state`
    and `next_check_at` read it too, so a summary kept with the target (and extended by
    each new check) gives their answer for the whole history without reading it."""

    tally: Tally = Tally()
    state: State = State.NEW  # `_state` after the last check, and since when
    since: datetime | None = None
    last_checked: datetime | None = None


def extend(summary: Summary, entry: PastCheck, config: PolicyConfig = DEFAULT_CONFIG
           ) -> Summary:
    """The summary of the history with `entry` added as its latest check (a check older
    than the summary's last one belongs elsewhere in the order: summarise the history
    again instead)."""
    tally = _step(summary.tally, entry)
    current = _state(tally, config)
    state, since = ((current, entry.checked_at) if current != summary.state
                    else (summary.state, summary.since))
    last = summary.last_checked
    return Summary(tally, state, since,
                   entry.checked_at if last is None or entry.checked_at > last else last)


def summarise(history: Sequence[PastCheck], config: PolicyConfig = DEFAULT_CONFIG) -> Summary:
    """The summary of a history in any order (checks at the same time keep theirs)."""
    summary = Summary()
    # Stable sort: entries with equal timestamps keep the caller's order.
    for entry in sorted(history, key=lambda e: e.checked_at):
        summary = extend(summary, entry, config)
    return summary


def link_state(
    history: Sequence[PastCheck] | Summary, now: datetime,
    config: PolicyConfig = DEFAULT_CONFIG
) -> Assessment:
    """The link's current state, read from its check history (any order) or its summary.

    `now` is not needed by the rules themselves (they depend on the checks' own
    timestamps, so re-judging later never changes the verdict) but is validated so
    callers cannot mix naive and aware datetimes.
    """
    _require_aware(now, "now")
    summary = history if isinstance(history, Summary) else summarise(history, config)
    tally = summary.tally
    return Assessment(
        state=_state(tally, config),
        consecutive_failures=tally.streak,
        first_failure_at=tally.streak_first,
        last_failure_at=tally.last_failure_at,
        last_ok_at=tally.last_ok_at,
        state_since=summary.since,
    )


def next_check_at(
    history: Sequence[PastCheck] | Summary,
    now: datetime,
    config: PolicyConfig = DEFAULT_CONFIG,
    *,
    key: str,
    host: str,
) -> datetime:
    """When to check this target next; a time in the past means "due now".

    The interval depends on the state (see docs/policy.md) and is shifted by up to
    ± jitter_fraction of itself, by an amount fixed by a hash of (host, key): targets
    added together spread out instead of all falling due in the same minute.
    """
    _require_aware(now, "now")
    summary = history if isinstance(history, Summary) else summarise(history, config)
    tally = summary.tally
    base = _informative_state(tally, config)
    if base is State.NEW:
        due = now + _jittered(config.new_delay, config, key, host)
        return max(due, now)
    if base is State.DEAD:
        interval = config.dead_interval
    elif base is State.FAILING:
        interval = config.failing_retry(tally.streak)
    elif base is State.BLOCKED:
        interval = timedelta(0)  # only neutral checks: the back-off below decides alone
    else:
        interval = config.alive_interval
    if tally.trailing_neutral:
        # Back off from a site that turns us away, but never check more often than the
        # underlying state would have us do anyway.
        interval = max(interval, config.blocked_backoff(tally.trailing_neutral))
    assert summary.last_checked is not None  # not NEW: there was a check
    return summary.last_checked + _jittered(interval, config, key, host)


def spread_per_host(
    due: Sequence[tuple[str, str]], max_per_host: int, counts: Counter[str] | None = None
) -> tuple[list[str], list[str]]:
    """Split due (key, host) pairs into (take, defer): at most `max_per_host` per host.

    Order is preserved in both lists, so the most overdue targets (if the caller
    sorted them so) go first and the deferred ones lead the next cycle. Hosts are
    compared case-insensitively, as DNS does. `counts` carries what earlier pages of the
    same cycle already took (it is updated), so a cycle read page by page is capped as a
    whole.
    """
    if isinstance(max_per_host, bool) or not isinstance(max_per_host, int) or max_per_host < 1:
        raise ValueError(f"max_per_host must be a positive integer, got {max_per_host!r}")
    counts = Counter() if counts is None else counts
    take: list[str] = []
    defer: list[str] = []
    for key, host in due:
        counts[host.lower()] += 1
        (take if counts[host.lower()] <= max_per_host else defer).append(key)
    return take, defer


def _jitter_unit(key: str, host: str) -> float:
    """A stable number in [-1, 1) for this target; no global random state involved."""
    digest = hashlib.blake2b(f"{host}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**63 - 1.0


def _jittered(interval: timedelta, config: PolicyConfig, key: str, host: str) -> timedelta:
    return interval + interval * (config.jitter_fraction * _jitter_unit(key, host))
