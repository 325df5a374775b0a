"""What the check spider yields: one typed result item per target.

The spider does not know where results go: an item pipeline of the application
(rotwatch.pipeline.RecordPipeline) writes them to the store; tests read them directly.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from core.exchange import ArchivedRecord
from core.records import Judgement, Observation, Validators


@dataclass(frozen=True)
class Outcome:
    target_id: int
    key: str
    host: str
    observation: Observation
    judgement: Judgement
    checked_at: datetime
    body: bytes | None = None  # the decoded page, for main-text extraction (pages only)
    encoding: str | None = None
    # Where the response that ended the target went in the WARC archive, if it was archived.
    warc: Future[ArchivedRecord | None] | None = None
    # The validators the target was checked with (a 304 confirms them; kept for the next).
    validators: Validators | None = None
