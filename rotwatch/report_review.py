"""What reports say of a reviewer's triage mark: the report field and its one-line text.

`TriageNote` is the `triage` field of each report link; every format of rotwatch/report.py
shows it with `mark_text`. See docs/review.md and docs/reports.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

from archive.store.db import to_db
from core.escaping import one_line
from core.triage import Triage


@dataclass(frozen=True)
class TriageNote:
    """A reviewer's mark on the link (`rotwatch triage`, the review UI)."""

    mark: str  # fixed | ignored | replaced
    reviewer: str
    marked_at: str
    note: str | None
    replacement: str | None
    reopened_at: str | None  # a `fixed` mark re-opened by this later failing check
    in_effect: bool  # the mark silences the link (not re-opened)


TRIAGE_FIELDS = tuple(f.name for f in fields(TriageNote))


def note_of(triage: Triage | None) -> TriageNote | None:
    if triage is None:
        return None
    return TriageNote(triage.mark.value, triage.reviewer, to_db(triage.marked_at) or "",
                      triage.note, triage.replacement, to_db(triage.reopened_at),
                      triage.in_effect)


def silenced(note: TriageNote | None) -> bool:
    """A mark in effect: the link no longer fails a report (exit code, JUnit)."""
    return note is not None and note.in_effect


def _same(moment: str | None) -> str:
    return moment or ""


def mark_text(t: TriageNote, when: Callable[[str | None], str] = _same,
              with_url: bool = True) -> str:
    """The mark in one line; `when` formats its times (a report shows its own zone), and
    the replacement URL is left out when a format links it itself."""
    text = f"marked {t.mark}" + (f" → {t.replacement}" if t.replacement and with_url else "")
    text += f" by {t.reviewer} on {when(t.marked_at)}" + (f": {t.note}" if t.note else "")
    if t.reopened_at:
        text += f"; re-opened: failed again on {when(t.reopened_at)}"
    return one_line(text)
