"""The policy summary a target keeps (core.policy.Summary, archive/store/summaries.py):
extended check by check through the store's JSON, it judges as the whole history does."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from archive.store.summaries import decode, encode
from core.policy import PastCheck, PolicyConfig, link_state, next_check_at, summarise
from core.records import Judgement, Verdict
from rotwatch.target_updates import extended, past_check, target_update

T0 = datetime(2024, 7, 29, 12, 0, tzinfo=UTC)
VERDICTS = list(Verdict)


def _checks(rng: random.Random, count: int) -> list[PastCheck]:
    at, checks = T0, []
    for _ in range(count):
        # 0 h: two checks in the same second (the history keeps their recorded order)
        at += timedelta(hours=rng.choice([0, 1, 12, 24, 72, 200]))
        checks.append(PastCheck(at, rng.choice(VERDICTS), rng.random() < 0.2,
                                rng.random() < 0.2))
    return checks


def test_a_summary_extended_through_the_store_judges_as_the_history() -> None:
    rng = random.Random(13)
    for config in (PolicyConfig(), PolicyConfig(dead_after_failures=2, recovered_checks=1)):
        for _ in range(80):
            checks = _checks(rng, rng.randint(1, 30))
            stored = None
            for n, check in enumerate(checks, 1):
                # what one Recorder batch does: read the summary, extend it, write it back
                summary = extended(decode(stored) if stored else summarise([], config),
                                   [check], config)
                assert summary is not None
                stored = encode(summary)
                history = checks[:n]
                now = check.checked_at
                assert summary == summarise(history, config)
                assert link_state(summary, now, config) == link_state(history, now, config)
                assert next_check_at(summary, now, config, key="k", host="h") == \
                    next_check_at(history, now, config, key="k", host="h")
                assert target_update(1, "k", "h", check.verdict, now, history, config) == \
                    target_update(1, "k", "h", check.verdict, now, summary, config)


def test_a_check_older_than_the_summary_sends_the_target_to_its_history() -> None:
    checks = _checks(random.Random(5), 6)
    summary = summarise(checks[:4])
    assert extended(summary, [checks[4], checks[5]], PolicyConfig()) == summarise(checks)
    assert extended(summary, [checks[1]], PolicyConfig()) is None
    assert extended(summary, [checks[5], checks[4]], PolicyConfig()) is None
    assert extended(None, [checks[4]], PolicyConfig()) is None


def test_a_new_check_is_judged_at_the_time_the_store_keeps() -> None:
    check = past_check(T0 + timedelta(microseconds=999_999),
                       Judgement(Verdict.REDIRECTED, "moved", permanent_redirect=True), None)
    assert check == PastCheck(T0, Verdict.REDIRECTED, True, False)


def test_what_is_not_a_summary_is_read_as_none() -> None:
    assert [decode(text) for text in ("", "[]", "{}", "[1,2]", '"x"', "null",
                                      '[0,null,null,null,0,null,0,"gone",null,null]')] == \
        [None] * 7
