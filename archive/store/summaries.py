"""Each target's policy summary (`targets.policy_summary`, migration m008): its check
history as the recheck policy folds it (core.policy.Summary), kept as JSON.

A crawl's Recorder extends it by each new check instead of reading the target's last
checks back (their cost grew with the history); every path that updates a target's state
writes it (archive.store.checks.update_targets). A target without one (checked before the
migration) has its history read once, as before.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from archive.store.db import from_db, to_db
from core.policy import PastCheck, State, Summary, Tally
from core.records import Verdict

_IN_CHUNK = 500


def summaries(db: Database, target_ids: Iterable[int]) -> dict[int, Summary]:
    """The stored summary of each of these targets that has one."""
    ids = list(target_ids)
    found: dict[int, Summary] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start:start + _IN_CHUNK]
        for target_id, text in db.conn.execute(
                "SELECT id, policy_summary FROM targets WHERE policy_summary IS NOT NULL "
                f"AND id IN ({','.join('?' * len(chunk))})", chunk):
            summary = decode(text)
            if summary is not None:
                found[int(target_id)] = summary
    return found


def encode(summary: Summary) -> str:
    t = summary.tally
    last = t.last_healthy
    return json.dumps([
        t.streak, to_db(t.streak_first), to_db(t.last_failure_at), to_db(t.last_ok_at),
        t.healthy_run, None if last is None else [to_db(last.checked_at), last.verdict.value,
                                                  last.permanent_redirect, last.drifted],
        t.trailing_neutral, summary.state.value, to_db(summary.since),
        to_db(summary.last_checked)], separators=(",", ":"))


def decode(text: str) -> Summary | None:
    """The summary `encode` wrote; None for anything else (the history is read instead)."""
    try:
        (streak, first, failure, ok, healthy_run, last, neutral, state, since,
         checked) = json.loads(text)
        last_healthy = None if last is None else PastCheck(
            _time(last[0]), Verdict(last[1]), bool(last[2]), bool(last[3]))
        return Summary(Tally(int(streak), from_db(first), from_db(failure), from_db(ok),
                              int(healthy_run), last_healthy, int(neutral)),
                       State(state), from_db(since), from_db(checked))
    except (ValueError, TypeError, IndexError):
        return None


def _time(value: Any) -> datetime:
    moment = from_db(value)
    if moment is None:
        raise ValueError("a check without a time")
    return moment
