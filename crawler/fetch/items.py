"""What the check spider hands on: one typed result per target, to a sink it is given.

The spider does not know where results go. The application gives it a `ResultSink`
(rotwatch.recorder.Recorder writes to the store and the WARC archive from its own thread);
tests can give it a list.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.exchange import ArchivedRecord, Exchange
from core.records import Judgement, Observation


@dataclass(frozen=True)
class Outcome:
    target_id: int
    key: str
    host: str
    observation: Observation
    judgement: Judgement
    checked_at: datetime
    body: bytes | None = None
    encoding: str | None = None
    warc: Future[ArchivedRecord | None] | None = None


class ResultSink(Protocol):
    """Where a crawl's snapshots and results go; every method returns at once."""

    @property
    def archiving(self) -> bool:
        """Whether responses are to be archived at all."""
        ...

    def archive(self, exchange: Exchange) -> Future[ArchivedRecord | None] | None:
        """Queue one exchange for the WARC archive; the future says where it went."""
        ...

    def add(self, outcome: Outcome) -> None:
        """Queue one target's result for the store."""
        ...

    def flush(self) -> None:
        """Write what is queued (called when the crawl is idle)."""
        ...
