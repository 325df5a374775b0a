"""What reports say of reviews: a link's triage mark and its suggested web-archive copy.

Report fields (`TriageNote`; the store's `ArchivedCopy`) and their one-line texts, shared
by every format of rotwatch/report.py. See docs/review.md and docs/reports.md.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from archive.store import ArchivedCopy
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
COPY_FIELDS = ("url", "source", "captured_at")


def note_of(triage: Triage | None) -> TriageNote | None:
    if triage is None:
        return None
    return TriageNote(triage.mark.value, triage.reviewer, to_db(triage.marked_at) or "",
                      triage.note, triage.replacement, to_db(triage.reopened_at),
                      triage.in_effect)


def silenced(note: TriageNote | None) -> bool:
    """A mark in effect: the link no longer fails a report (exit code, JUnit)."""
    return note is not None and note.in_effect


def mark_text(t: TriageNote, with_url: bool = True) -> str:
    """The mark in one line (the replacement URL left out when a format links it itself)."""
    text = f"marked {t.mark}" + (f" → {t.replacement}" if t.replacement and with_url else "")
    text += f" by {t.reviewer} at {t.marked_at}" + (f": {t.note}" if t.note else "")
    if t.reopened_at:
        text += f"; re-opened: failed again at {t.reopened_at}"
    return one_line(text)


def copy_label(c: ArchivedCopy) -> str:
    """The copy without its URL: "archived copy (source, captured at)"."""
    return one_line(f"archived copy ({c.source}, {c.captured_at})")


def copy_text(c: ArchivedCopy) -> str:
    return f"{copy_label(c)}: {one_line(c.url)}"


def copy_cells(c: ArchivedCopy | None) -> tuple[str | None, ...]:
    return (c.url, c.source, c.captured_at) if c else (None, None, None)
