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
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

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
    # Times as whole seconds since the epoch (the checks' own times are whole seconds):
    # cheaper both ways than ISO 8601, and a summary is read and written per check.
    return _JSON.encode([
        t.streak, _seconds(t.streak_first), _seconds(t.last_failure_at),
        _seconds(t.last_ok_at), t.healthy_run,
        None if last is None else [_seconds(last.checked_at), last.verdict.value,
                                   last.permanent_redirect, last.drifted],
        t.trailing_neutral, summary.state.value, _seconds(summary.since),
        _seconds(summary.last_checked)])


def decode(text: str) -> Summary | None:
    """The summary `encode` wrote; None for anything else (the history is read instead)."""
    try:
        (streak, first, failure, ok, healthy_run, last, neutral, state, since,
         checked) = json.loads(text)
        last_healthy = None if last is None else PastCheck(
            _time(last[0]), Verdict(last[1]), bool(last[2]), bool(last[3]))
        return Summary(Tally(int(streak), _moment(first), _moment(failure), _moment(ok),
                             int(healthy_run), last_healthy, int(neutral)),
                       State(state), _moment(since), _moment(checked))
    except (ValueError, TypeError, IndexError, OverflowError, OSError):
        return None


_JSON = json.JSONEncoder(separators=(",", ":"))


def _seconds(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def _moment(seconds: Any) -> datetime | None:
    return None if seconds is None else _time(seconds)


def _time(seconds: Any) -> datetime:
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise ValueError(f"not a time: {seconds!r}")
    return datetime.fromtimestamp(seconds, UTC)
