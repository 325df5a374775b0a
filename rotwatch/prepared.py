"""What the Recorder knows of one outcome before recording it, and the check row it becomes.

The Recorder's worker prepares each outcome as it arrives (store lookups, texts to
extract) and turns it into a `CheckRow` once the texts it waits for are extracted. The
preparation holds no page: a text being extracted is a Future (rotwatch/lazy_text.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass

from archive.store.checks import attempt_rows, judged_row
from archive.store.results import CheckRow
from archive.store.texts import StoredCapture
from core.exchange import ArchivedRecord
from crawler.fetch.items import Outcome
from rotwatch.drift import AgainstBaseline, MainText, against_baseline

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Capture:
    """One archived response of a target, as the WARC writer placed it."""

    record: ArchivedRecord
    url: str
    status: int
    warc_date: str
    mime: str | None


@dataclass(frozen=True)
class Prepared:
    record: ArchivedRecord | None
    captures: tuple[Capture, ...]  # every response of the target archived in this check
    mime: str | None
    earlier: tuple[str | None, str | None] | None = None  # title and text already stored
    text: Future[MainText] | None = None  # this capture's text, being extracted
    # The stored response whose text `text` is (a revisit's original), to keep it there.
    text_source: StoredCapture | None = None
    baseline: StoredCapture | None = None  # what this capture is compared with, if anything
    baseline_text: Future[MainText] | None = None  # the baseline's text, extracted late
    same: bool = False  # the baseline's payload, byte for byte: nothing to compare
    # A page's headline, kept as its title while its text is not extracted: what the
    # extraction would take as title (its first <h1>, else <title>).
    headline: str | None = None
    # `hashed`: the content hash of a `same` capture's text is `content_hash`, known
    # without the text (archive.store.texts.same_payload); the text is not read.
    hashed: bool = False
    content_hash: str | None = None

    def extractions(self) -> Iterator[Future[MainText]]:
        """The texts this check's row waits for."""
        yield from (f for f in (self.text, self.baseline_text) if f is not None)


def done(main: MainText) -> Future[MainText]:
    future: Future[MainText] = Future()
    future.set_result(main)
    return future


def result(future: Future[MainText], url: str) -> MainText | None:
    try:
        return future.result()
    except Exception as exc:  # a page that defeats extraction keeps its check
        LOG.warning("no main text for %s: %s", url, exc)
        return None


def late_texts(prepared: list[Prepared]) -> dict[int, tuple[StoredCapture, MainText]]:
    """Texts of stored captures extracted for this batch, by snapshot id."""
    found: dict[int, tuple[StoredCapture, MainText]] = {}
    for p in prepared:
        for capture, future in ((p.baseline, p.baseline_text), (p.text_source, p.text)):
            if capture is not None and future is not None:
                main = result(future, capture.url)
                if main is not None:
                    found[capture.snapshot_id] = (capture, main)
    return found


def check_row(outcome: Outcome, prepared: Prepared,
              late: dict[int, tuple[StoredCapture, MainText]]) -> CheckRow:
    """The check as recorded: the texts it waited for are extracted by now."""
    obs, record, earlier = outcome.observation, prepared.record, prepared.earlier
    title, text = prepared.headline or obs.title, None
    if earlier is not None:
        title, text = earlier[0] or obs.title, earlier[1]
    elif prepared.text is not None:
        main = result(prepared.text, obs.final_url)
        if main is not None:
            title, text = main.title or obs.title, main.text
    base, base_text = prepared.baseline, None
    if base is not None:
        base_text = base.text or (late[base.snapshot_id][1].text
                                  if base.snapshot_id in late else None)
    drift = (AgainstBaseline(prepared.content_hash, 1.0, False) if prepared.hashed
             else against_baseline(text, base_text, same_payload=prepared.same))
    snapshot = None
    if record is not None:
        snapshot = judged_row(
            outcome.checked_at, obs, record, prepared.captures, mime=prepared.mime,
            title=title,
            # a revisit's text is its original's: stored once, not per visit
            text=None if record.record_type == "revisit" else text,
            text_hash=drift.content_hash)
    attempts = attempt_rows(outcome.checked_at, prepared.captures, record)
    return CheckRow(outcome.target_id, outcome.checked_at, obs, outcome.judgement,
                    drift.content_hash, drift.similarity, drift.drifted, snapshot, attempts)
