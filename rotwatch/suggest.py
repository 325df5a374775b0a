"""The suggest job: fill the store's web-archive cache for the links in trouble.

For each problem link (URL, citation day) whose cached answer has expired or is missing,
ask each configured archive for the copy nearest the citation day, at most `max_lookups`
questions and `max_seconds` in all; answers (copies, "none", errors) are cached for
`cache_days`. Reports read only the cache, so they stay offline and fast. Optionally ask a
Save-Page-Now style endpoint to capture alive cited pages (`max_saves`, paced).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from archive.store import Lookup, Store
from core.escaping import one_line
from rotwatch.webarchive import SuggestOptions, WebArchives
from rotwatch.webarchive_http import FetchError

# A failed question is asked again sooner than an answered one: the archive may be back.
_ERROR_TTL = timedelta(hours=1)
_BATCH = 20  # answers per store transaction


class JobOptions(SuggestOptions, Protocol):
    """What the job reads of the `[suggest]` config besides the clients' settings."""

    cache_days: float
    max_lookups: int
    max_seconds: float
    max_saves: int


@dataclass
class SuggestSummary:
    asked: int = 0
    found: int = 0
    missing: int = 0
    errors: list[str] = field(default_factory=list)
    cached: int = 0  # fresh answers already in the store
    left: int = 0  # not asked: the count or time budget ran out
    saved: int = 0
    save_errors: list[str] = field(default_factory=list)


def near_of(day: str) -> datetime:
    """The moment a citation day stands for: its noon, UTC."""
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)


def fill_cache(store: Store, options: JobOptions, now: datetime, states: Sequence[str],
               seeds: Sequence[str] = (), *, save: bool = False) -> SuggestSummary:
    """Ask the configured archives about the problem links; see the module docstring."""
    archives = WebArchives(options, time.monotonic() + options.max_seconds)
    summary = SuggestSummary()
    fresh = store.fresh_lookups(now)
    pending: list[Lookup] = []
    questions = [(url, day, source, endpoint) for url, day in store.lookup_wanted(states, seeds)
                 for source, endpoint in archives.sources()]
    for n, (url, day, source, endpoint) in enumerate(questions):
        if (url, day, source) in fresh:
            summary.cached += 1
            continue
        if summary.asked >= options.max_lookups or time.monotonic() >= archives.deadline:
            summary.left = sum(1 for q in questions[n:] if q[:3] not in fresh)
            break
        summary.asked += 1
        asked_at = datetime.now(UTC).replace(microsecond=0)
        try:
            copy = archives.find(source, endpoint, url, near_of(day))
        except FetchError as exc:
            summary.errors.append(one_line(f"{source} {url}: {exc}"))
            pending.append(Lookup(url, day, source, endpoint, asked_at, asked_at + _ERROR_TTL,
                                  None, None, str(exc)))
        else:
            ttl = timedelta(days=options.cache_days)
            if copy is None:
                summary.missing += 1
            else:
                summary.found += 1
            pending.append(Lookup(url, day, source, endpoint, asked_at, asked_at + ttl,
                                  copy.url if copy else None, copy.captured_at if copy else None))
        if len(pending) >= _BATCH:
            store.put_lookups(pending)
            pending.clear()
    if pending:
        store.put_lookups(pending)
    if save and options.save_endpoint and options.max_saves:
        _save_alive(store, options.save_endpoint, options, archives, now, summary)
    return summary


def _save_alive(store: Store, endpoint: str, options: JobOptions, archives: WebArchives,
                now: datetime, summary: SuggestSummary) -> None:
    # One request per page per cache period at most, and `max_saves` per run.
    since = now - timedelta(days=options.cache_days)
    for url in store.save_wanted(since, options.max_saves):
        if time.monotonic() >= archives.deadline:
            break
        at = datetime.now(UTC).replace(microsecond=0)
        try:
            copy = archives.save(url)
        except FetchError as exc:
            summary.save_errors.append(one_line(f"save {url}: {exc}"))
            store.put_save(url, endpoint, at, None, str(exc))
        else:
            summary.saved += 1
            store.put_save(url, endpoint, at, copy, None)
