"""Triage marks: what a reviewer said about a link, and whether that still holds.

The rule (docs/review.md), pure and clock-free:

* A mark is about the checks *before* it: "I saw this failing and dealt with it".
* The latest mark of a link wins; `cleared` takes the link back to no mark at all.
* `fixed` is re-opened by the first *failing* check after it (a check whose verdict
  counts towards "dead"; blocked, robots-disallowed and not-checkable say nothing and
  do not re-open it). A healthy check after it confirms it; it stays in effect.
* `ignored` stays in effect until it is cleared or replaced by another mark.
* `replaced` records the URL the article links to now; it stays in effect (the old URL
  failing is what was expected).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.policy import PastCheck
from core.urls import resolve

MAX_NOTE = 2000  # characters; a note is a sentence or two, not a document
MAX_REVIEWER = 200


class Mark(StrEnum):
    """What a reviewer can say about a link. Closed."""

    FIXED = "fixed"  # the link works again, or the article was corrected
    IGNORED = "ignored"  # known, accepted: stop reporting it
    REPLACED = "replaced"  # the article now links to `replacement`
    CLEARED = "cleared"  # take back the previous mark


SETTABLE = (Mark.FIXED, Mark.IGNORED, Mark.REPLACED)


class TriageError(ValueError):
    """A mark that cannot be recorded; the message names the cause."""


@dataclass(frozen=True)
class MarkEvent:
    """One mark as recorded (the store keeps every one: the history)."""

    mark: Mark
    marked_at: datetime
    reviewer: str
    note: str | None = None
    replacement: str | None = None
    seed_path: str | None = None  # None: the mark is about the URL in every article


@dataclass(frozen=True)
class Triage:
    """The mark that applies to a link now, and whether a later check re-opened it."""

    mark: Mark
    marked_at: datetime
    reviewer: str
    note: str | None
    replacement: str | None
    reopened_at: datetime | None = None  # the failing check that re-opened a `fixed` mark

    @property
    def in_effect(self) -> bool:
        """True while the mark silences the link in reports."""
        return self.reopened_at is None


def validate(mark: Mark, replacement: str | None, note: str | None, reviewer: str) -> str | None:
    """Refuse a mark that makes no sense; returns the normalised replacement URL."""
    if mark is Mark.REPLACED:
        if not replacement:
            raise TriageError("--mark replaced needs --replacement URL (the link's new target)")
        resolved = resolve(replacement.strip(), None)
        if not resolved.checkable:
            raise TriageError(f"the replacement {replacement!r} is not a web URL "
                              f"({resolved.reason})")
        replacement = resolved.url
    elif replacement:
        raise TriageError(f"--replacement only goes with --mark replaced, not {mark.value}")
    if note is not None and len(note) > MAX_NOTE:
        raise TriageError(f"the note is longer than {MAX_NOTE} characters")
    if not reviewer.strip() or len(reviewer) > MAX_REVIEWER:
        raise TriageError(f"the reviewer name must be 1 to {MAX_REVIEWER} characters")
    return replacement


def latest(events: Iterable[MarkEvent]) -> MarkEvent | None:
    """The mark that counts: the last one recorded (ties keep the given order)."""
    last: MarkEvent | None = None
    for event in events:
        if last is None or event.marked_at >= last.marked_at:
            last = event
    return last


def first_failure_after(history: Sequence[PastCheck], moment: datetime) -> datetime | None:
    """The first check after `moment` whose verdict counts towards "dead", if any."""
    later = [c.checked_at for c in history if c.checked_at > moment and c.verdict.is_failure]
    return min(later) if later else None


def current(event: MarkEvent | None, failure_after: datetime | None) -> Triage | None:
    """The triage of a link from its latest mark and the first failing check after it.

    `failure_after` is `first_failure_after(history, event.marked_at)` (the store computes
    it in one query for a whole report).
    """
    if event is None or event.mark is Mark.CLEARED:
        return None
    reopened = failure_after if event.mark is Mark.FIXED else None
    if reopened is not None and reopened <= event.marked_at:
        reopened = None  # a check at or before the mark is what the mark was about
    return Triage(event.mark, event.marked_at, event.reviewer, event.note, event.replacement,
                  reopened)
