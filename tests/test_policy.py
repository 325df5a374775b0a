"""The dead/alive policy and the re-check schedule, over hand-built histories."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from core.policy import (
    Assessment,
    PastCheck,
    PolicyConfig,
    State,
    link_state,
    next_check_at,
    spread_per_host,
)
from core.records import Verdict

T0 = datetime(2024, 7, 29, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=400)
OK, BROKEN, SOFT = Verdict.OK, Verdict.BROKEN, Verdict.SOFT_404
BLOCKED, ROBOTS, NOPE = Verdict.BLOCKED, Verdict.ROBOTS_DISALLOWED, Verdict.NOT_CHECKABLE
NEUTRAL = (BLOCKED, ROBOTS, NOPE)
FAILURES = tuple(v for v in Verdict if v.is_failure)
NO_JITTER = PolicyConfig(jitter_fraction=0.0)


def day(x: float) -> datetime:
    return T0 + timedelta(days=x)


def hist(*checks: tuple[float, Verdict]) -> list[PastCheck]:
    return [PastCheck(day(at), verdict) for at, verdict in checks]


DEFAULTS = PolicyConfig()


def state(*checks: tuple[float, Verdict], config: PolicyConfig = DEFAULTS) -> State:
    return link_state(hist(*checks), NOW, config).state


def due(history: list[PastCheck], config: PolicyConfig = NO_JITTER, key: str = "k") -> datetime:
    return next_check_at(history, NOW, config, key=key, host="example.org")


# --- the dead rule, exactly at its edges -------------------------------------------------


def test_empty_history_is_new() -> None:
    assert link_state([], NOW) == Assessment(State.NEW)


def test_two_failures_over_five_days_are_only_failing() -> None:
    assert state((0, BROKEN), (5, BROKEN)) is State.FAILING


def test_three_failures_within_two_days_are_only_failing() -> None:
    assert state((0, BROKEN), (1, BROKEN), (2, BROKEN)) is State.FAILING


def test_three_failures_a_second_short_of_three_days_are_only_failing() -> None:
    almost = PastCheck(day(3) - timedelta(seconds=1), BROKEN)
    history = [*hist((0, BROKEN), (1, BROKEN)), almost]
    assert link_state(history, NOW).state is State.FAILING


def test_three_failures_over_exactly_three_days_are_dead() -> None:
    result = link_state(hist((0, BROKEN), (1.5, SOFT), (3, Verdict.TIMEOUT)), NOW)
    assert result.state is State.DEAD
    assert result.consecutive_failures == 3
    assert (result.first_failure_at, result.last_failure_at) == (day(0), day(3))
    assert result.state_since == day(3)
    assert result.last_ok_at is None


def test_a_fourth_failure_later_keeps_it_dead_since_the_third() -> None:
    result = link_state(hist((0, BROKEN), (1.5, BROKEN), (3, BROKEN), (20, BROKEN)), NOW)
    assert result.state is State.DEAD
    assert result.consecutive_failures == 4
    assert result.state_since == day(3)


def test_a_healthy_check_resets_the_count() -> None:
    checks = [(0, BROKEN), (2, BROKEN), (3, OK), (4, BROKEN), (6, BROKEN)]
    result = link_state(hist(*checks), NOW)
    assert result.state is State.FAILING
    assert result.consecutive_failures == 2
    assert result.first_failure_at == day(4)
    assert result.last_ok_at == day(3)
    assert state(*checks, (7, BROKEN)) is State.DEAD


@pytest.mark.parametrize("neutral", NEUTRAL)
def test_neutral_checks_in_between_neither_count_nor_reset(neutral: Verdict) -> None:
    history = hist((0, BROKEN), (1, neutral), (2, BROKEN), (2.5, neutral), (3, BROKEN))
    result = link_state(history, NOW)
    assert result.state is State.DEAD
    assert result.consecutive_failures == 3
    # Neutral checks alone never add up to a failure streak.
    assert state((0, BROKEN), (1, neutral), (2, neutral), (3, neutral)) is State.FAILING


@pytest.mark.parametrize("failure", FAILURES)
def test_every_failure_verdict_counts(failure: Verdict) -> None:
    assert state((0, failure)) is State.FAILING
    assert state((0, failure), (1, failure), (3, failure)) is State.DEAD


def test_soft_404_and_broken_are_failures() -> None:
    assert SOFT in FAILURES and BROKEN in FAILURES


@pytest.mark.parametrize("neutral", NEUTRAL)
def test_only_neutral_history_is_blocked(neutral: Verdict) -> None:
    result = link_state(hist((0, neutral), (1, neutral)), NOW)
    assert result.state is State.BLOCKED
    assert result.state_since == day(0)
    assert result.consecutive_failures == 0


def test_blocked_after_alive_is_blocked_but_failing_and_dead_stand() -> None:
    result = link_state(hist((0, OK), (7, BLOCKED), (8, BLOCKED)), NOW)
    assert (result.state, result.state_since, result.last_ok_at) == (State.BLOCKED, day(7), day(0))
    assert state((0, BROKEN), (1, BLOCKED)) is State.FAILING
    assert state((0, BROKEN), (1, BROKEN), (3, BROKEN), (4, BLOCKED)) is State.DEAD


# --- recovery, moved, changed -------------------------------------------------------------


def test_recovered_stays_visible_for_recovered_checks_healthy_checks() -> None:
    failing = [(0, BROKEN)]
    assert state(*failing, (1, OK)) is State.RECOVERED
    assert state(*failing, (1, OK), (2, OK), (3, OK)) is State.RECOVERED
    result = link_state(hist(*failing, (1, OK), (2, OK), (3, OK), (4, OK)), NOW)
    assert (result.state, result.state_since) == (State.ALIVE, day(4))
    assert result.last_failure_at == day(0)


def test_recovery_from_dead_keeps_last_failure_and_clears_the_streak() -> None:
    result = link_state(hist((0, BROKEN), (1, BROKEN), (3, BROKEN), (10, OK)), NOW)
    assert result.state is State.RECOVERED
    assert result.state_since == day(10)
    assert (result.consecutive_failures, result.first_failure_at) == (0, None)
    assert (result.last_failure_at, result.last_ok_at) == (day(3), day(10))


def test_recovered_checks_is_configurable_and_neutral_checks_do_not_end_it() -> None:
    assert state((0, BROKEN), (1, OK), config=PolicyConfig(recovered_checks=0)) is State.ALIVE
    one = PolicyConfig(recovered_checks=1)
    assert state((0, BROKEN), (1, OK), (2, OK), config=one) is State.ALIVE
    # A blocked check in between neither counts as healthy nor restarts the recovery.
    assert state((0, BROKEN), (1, OK), (2, BLOCKED), (3, OK), (4, OK)) is State.RECOVERED
    assert state((0, BROKEN), (1, OK), (2, BLOCKED), (3, OK), (4, OK), (5, OK)) is State.ALIVE


def test_moved_and_changed_follow_the_latest_healthy_check() -> None:
    moved = PastCheck(day(1), Verdict.REDIRECTED, permanent_redirect=True)
    drifted = PastCheck(day(1), OK, drifted=True)
    both = PastCheck(day(1), Verdict.REDIRECTED, permanent_redirect=True, drifted=True)
    assert link_state([moved], NOW).state is State.MOVED
    assert link_state([drifted], NOW).state is State.CHANGED
    assert link_state([both], NOW).state is State.MOVED  # the more actionable news wins
    assert link_state([moved, *hist((2, OK))], NOW).state is State.ALIVE
    assert link_state([drifted, *hist((2, BLOCKED))], NOW).state is State.BLOCKED


def test_recovered_wins_over_moved_while_visible() -> None:
    moved = PastCheck(day(1), Verdict.REDIRECTED, permanent_redirect=True)
    assert link_state([*hist((0, BROKEN)), moved], NOW).state is State.RECOVERED


def test_input_order_does_not_matter() -> None:
    checks = hist((0, OK), (1, BROKEN), (2, BLOCKED), (2.5, BROKEN), (4, BROKEN), (5, BROKEN))
    expected = link_state(checks, NOW)
    assert expected.state is State.DEAD
    rng = random.Random(7)
    for _ in range(20):
        shuffled = checks[:]
        rng.shuffle(shuffled)
        assert link_state(shuffled, NOW) == expected
        assert due(shuffled) == due(checks)


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        PastCheck(datetime(2024, 1, 1), OK)
    with pytest.raises(ValueError, match="now must be"):
        link_state([], datetime(2024, 1, 1))


# --- next_check_at --------------------------------------------------------------------------


def test_new_targets_are_due_now_even_with_jitter() -> None:
    assert next_check_at([], NOW, key="a", host="h") == NOW
    config = PolicyConfig(new_delay=timedelta(days=1))
    at = next_check_at([], NOW, config, key="a", host="h")
    assert NOW + timedelta(days=0.9) <= at <= NOW + timedelta(days=1.1)


@pytest.mark.parametrize(
    ("checks", "expected_state"),
    [
        ([(0, OK)], State.ALIVE),
        ([(0, BROKEN), (0.5, OK)], State.RECOVERED),
    ],
)
def test_healthy_states_wait_the_alive_interval(
    checks: list[tuple[float, Verdict]], expected_state: State
) -> None:
    history = hist(*checks)
    assert link_state(history, NOW).state is expected_state
    assert due(history) == history[-1].checked_at + timedelta(days=7)


def test_moved_and_changed_wait_the_alive_interval() -> None:
    for entry in (
        PastCheck(day(2), Verdict.REDIRECTED, permanent_redirect=True),
        PastCheck(day(2), OK, drifted=True),
    ):
        assert link_state([entry], NOW).state in (State.MOVED, State.CHANGED)
        assert due([entry]) == day(9)


def test_failing_retries_grow_and_are_capped() -> None:
    # Failures half a day apart never span three days here, so the state stays failing.
    expected_days = {1: 1, 2: 2, 3: 4, 4: 7, 5: 7}
    for failures, wait in expected_days.items():
        history = hist(*[(i * 0.5, BROKEN) for i in range(failures)])
        assert link_state(history, NOW).state is State.FAILING
        assert due(history) == history[-1].checked_at + timedelta(days=wait)


def test_growth_factor_and_cap_are_configurable() -> None:
    config = PolicyConfig(
        jitter_fraction=0,
        failing_growth=3,
        failing_first_retry=timedelta(hours=2),
        failing_max_interval=timedelta(hours=12),
    )
    assert [config.failing_retry(n) for n in (1, 2, 3)] == [
        timedelta(hours=2),
        timedelta(hours=6),
        timedelta(hours=12),
    ]
    assert config.failing_retry(10**6) == timedelta(hours=12)  # no overflow on long streaks


def test_dead_targets_wait_the_dead_interval() -> None:
    history = hist((0, BROKEN), (1, BROKEN), (3, BROKEN))
    assert due(history) == day(33)


def test_blocked_backs_off_doubling_up_to_fourteen_days() -> None:
    expected_days = {1: 1, 2: 2, 3: 4, 4: 8, 5: 14, 40: 14}
    for neutral_checks, wait in expected_days.items():
        history = hist(*[(i, BLOCKED) for i in range(neutral_checks)])
        assert link_state(history, NOW).state is State.BLOCKED
        assert due(history) == day(neutral_checks - 1 + wait)


def test_blocked_after_an_informative_state_never_checks_more_often_than_it() -> None:
    assert due(hist((0, OK), (7, BLOCKED))) == day(14)  # alive interval beats 1 day back-off
    many = hist((0, OK), *[(7 + i, BLOCKED) for i in range(5)])
    assert due(many) == day(11 + 14)  # back-off (14 days) beats the alive interval
    dead = hist((0, BROKEN), (1, BROKEN), (3, BROKEN), (4, ROBOTS))
    assert due(dead) == day(34)


def test_overdue_targets_get_a_time_in_the_past() -> None:
    history = hist((0, OK))
    assert due(history) < NOW


def test_jitter_is_bounded_deterministic_and_spreads_targets() -> None:
    history = hist((0, OK))
    base = day(7)
    limit = timedelta(days=7) * 0.1
    times = [next_check_at(history, NOW, key=f"t{i}", host="h") for i in range(200)]
    assert all(abs(at - base) <= limit for at in times)
    assert times == [next_check_at(history, NOW, key=f"t{i}", host="h") for i in range(200)]
    assert len(set(times)) == len(times)
    assert any(at < base for at in times) and any(at > base for at in times)


# --- spread_per_host --------------------------------------------------------------------------


def test_spread_per_host_caps_each_host_and_keeps_order() -> None:
    pairs = [("a1", "a.org"), ("b1", "b.org"), ("a2", "A.org"), ("a3", "a.org"), ("b2", "b.org")]
    assert spread_per_host(pairs, 1) == (["a1", "b1"], ["a2", "a3", "b2"])
    assert spread_per_host(pairs, 2) == (["a1", "b1", "a2", "b2"], ["a3"])
    assert spread_per_host(pairs, 10) == (["a1", "b1", "a2", "a3", "b2"], [])
    assert spread_per_host([], 3) == ([], [])


@pytest.mark.parametrize("bad", [0, -1, True])
def test_spread_per_host_rejects_a_non_positive_cap(bad: int) -> None:
    with pytest.raises(ValueError, match="max_per_host"):
        spread_per_host([("a", "h")], bad)


# --- configuration ----------------------------------------------------------------------------


def test_from_mapping_reads_days_hours_and_defaults() -> None:
    raw = {"alive_interval": 10, "failing_first_retry": "36h", "dead_interval": "45d"}
    config = PolicyConfig.from_mapping({**raw, "dead_after_span": 0.5, "dead_after_failures": 4})
    assert config.alive_interval == timedelta(days=10)
    assert config.failing_first_retry == timedelta(hours=36)
    assert config.dead_interval == timedelta(days=45)
    assert config.dead_after_span == timedelta(hours=12)
    assert config.dead_after_failures == 4
    assert config.blocked_max_interval == timedelta(days=14)  # untouched default
    assert PolicyConfig.from_mapping({}) == PolicyConfig()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"alive_intervall": 7}, "unknown policy key.*alive_intervall"),
        ({"alive_interval": -1}, "alive_interval must not be negative"),
        ({"alive_interval": "-2d"}, "alive_interval must not be negative"),
        ({"alive_interval": 0}, "alive_interval must be greater than zero"),
        ({"alive_interval": "soon"}, "cannot read 'soon'"),
        ({"alive_interval": "7 weeks"}, "cannot read"),
        ({"alive_interval": True}, "alive_interval must be a finite number"),
        ({"alive_interval": 1e12}, "too large"),
        ({"dead_after_failures": 0}, "dead_after_failures must be at least 1"),
        ({"dead_after_failures": 2.5}, "dead_after_failures must be an integer"),
        ({"recovered_checks": -1}, "recovered_checks must be at least 0"),
        ({"failing_growth": 0.5}, "failing_growth must be at least 1"),
        ({"jitter_fraction": 0.9}, r"jitter_fraction must be within \[0, 0.5\]"),
        ({"jitter_fraction": float("nan")}, "jitter_fraction must be a finite number"),
        ({"failing_max_interval": "12h"}, "failing_max_interval must be >= failing_first_retry"),
        ({"blocked_first_retry": 20}, "blocked_max_interval must be >= blocked_first_retry"),
    ],
)
def test_from_mapping_rejects_bad_values_clearly(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PolicyConfig.from_mapping(raw)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ValueError, match="dead_interval must be greater than zero"):
        PolicyConfig(dead_interval=timedelta(0))


# --- property-style: random histories against a naive reference -------------------------------


def _reference_dead(history: list[PastCheck], config: PolicyConfig) -> bool:
    """Dead, spelled out the slow obvious way: failures after the last healthy check."""
    ordered = sorted(history, key=lambda e: e.checked_at)
    healthy = [e for e in ordered if e.verdict.is_healthy]
    cutoff = healthy[-1].checked_at if healthy else None
    streak = [
        e for e in ordered if e.verdict.is_failure and (cutoff is None or e.checked_at > cutoff)
    ]
    latest = [e for e in ordered if e.verdict.is_failure or e.verdict.is_healthy]
    return (
        bool(latest)
        and latest[-1].verdict.is_failure
        and len(streak) >= config.dead_after_failures
        and streak[-1].checked_at - streak[0].checked_at >= config.dead_after_span
    )


def _random_history(rng: random.Random) -> list[PastCheck]:
    verdicts = [OK, Verdict.REDIRECTED, BROKEN, SOFT, Verdict.TIMEOUT, *NEUTRAL]
    at, entries = T0, []
    for _ in range(rng.randint(0, 9)):
        at += timedelta(hours=rng.choice([1, 6, 12, 24, 36, 72, 200]))
        entries.append(
            PastCheck(at, rng.choice(verdicts), rng.random() < 0.2, rng.random() < 0.2)
        )
    rng.shuffle(entries)
    return entries


@pytest.mark.parametrize("config", [PolicyConfig(), PolicyConfig(dead_after_failures=2)])
def test_random_histories_keep_the_invariants(config: PolicyConfig) -> None:
    rng = random.Random(20240729)
    unjittered = PolicyConfig(**{**config.__dict__, "jitter_fraction": 0.0})
    for _ in range(1500):
        history = _random_history(rng)
        result = link_state(history, NOW, config)
        failures = [e for e in history if e.verdict.is_failure]
        assert (result.state is State.DEAD) == _reference_dead(history, config)
        if len(failures) < config.dead_after_failures:
            assert result.state is not State.DEAD
        if result.state is State.DEAD:
            assert result.first_failure_at is not None and result.last_failure_at is not None
            assert result.last_failure_at - result.first_failure_at >= config.dead_after_span
            assert result.consecutive_failures >= config.dead_after_failures
        if not history:
            assert result.state is State.NEW
            continue
        assert result.state is not State.NEW
        assert result.state_since in {e.checked_at for e in history}
        if all(e.verdict in NEUTRAL for e in history):
            assert result.state is State.BLOCKED
        if result.state is State.RECOVERED:
            assert result.last_failure_at is not None and result.consecutive_failures == 0
        # Jitter moves the time by at most jitter_fraction of the (unjittered) interval.
        last = max(e.checked_at for e in history)
        plain = next_check_at(history, NOW, unjittered, key="x", host="h")
        jittered = next_check_at(history, NOW, config, key="x", host="h")
        assert abs(jittered - plain) <= (plain - last) * config.jitter_fraction
        assert plain > last
