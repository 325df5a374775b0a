"""The crawl's item pipeline: archives each target's responses and records each result.

Scrapy builds it from the crawl's settings (`ITEM_PIPELINES`); the Recorder it feeds is
made, and closed, by rotwatch/crawl_process, and reaches it as the `ROTWATCH_RECORDER`
setting of that crawler. Responses come from the `response_downloaded` signal (the bytes
as the server sent them), results as the spider's `Outcome` items, counted in a `Tally`
for the run's summary. Nothing here blocks:
the Recorder's worker thread writes the WARC files and the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response

from core.operator_rules import AcceptRule, accepted, refused_by_settings
from core.records import Verdict
from crawler.fetch.archiving import note_archived, snapshot_of
from crawler.fetch.hops import fetch_of
from crawler.fetch.items import Outcome
from rotwatch.recorder import Recorder

RECORDER = "ROTWATCH_RECORDER"
ACCEPT = "ROTWATCH_ACCEPT"  # `--accept` rules as given (core.operator_rules.AcceptRule)
TALLY = "ROTWATCH_TALLY"  # a Tally, optional: what the crawl's results came to


class Tally:
    """What a crawl's results came to: verdict counts, refusals, and each verdict passed on
    (to a progress bar) as it is recorded.

    Counted where each result is recorded, in the pipeline: Scrapy's `item_scraped` signal
    would cost a signal dispatch per target for the same thing.
    """

    def __init__(self, on_result: Callable[[Verdict], None] | None = None) -> None:
        self.verdicts: Counter[str] = Counter()
        self.refusals: list[str] = []  # why, for each target refused by the settings
        self.on_result = on_result

    def refused(self, item: Outcome) -> None:
        self.refusals.append(item.observation.error_message or item.judgement.reason)

    def checked(self, item: Outcome) -> None:
        self.verdicts[item.judgement.verdict.value] += 1
        if self.on_result is not None:
            self.on_result(item.judgement.verdict)


class RecordPipeline:
    def __init__(self, recorder: Recorder, max_bytes: int,
                 accept: tuple[AcceptRule, ...] = (), tally: Tally | None = None) -> None:
        self.recorder = recorder
        self.max_bytes = max_bytes
        self.accept = accept
        self.tally = tally if tally is not None else Tally()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        recorder = crawler.settings.get(RECORDER)
        if not isinstance(recorder, Recorder):
            raise TypeError(f"the {RECORDER} setting must be a Recorder, got {recorder!r}")
        accept = tuple(AcceptRule.parse(rule) for rule in crawler.settings.getlist(ACCEPT))
        tally = crawler.settings.get(TALLY)
        pipeline = cls(recorder, crawler.settings.getint("ROTWATCH_MAX_BYTES"), accept,
                       tally if isinstance(tally, Tally) else None)
        if recorder.archiving:
            # Held strongly (the pipeline lives as long as the crawl): no weak reference
            # to resolve on each of the signal's dispatches.
            crawler.signals.connect(pipeline.archive, signal=signals.response_downloaded,
                                    weak=False)
        # A quiet crawl writes what waits rather than holding a part-filled batch.
        crawler.signals.connect(pipeline.flush, signal=signals.spider_idle)
        return pipeline

    def archive(self, response: Response, request: Request, spider: Any) -> None:
        exchange = snapshot_of(response, request, self.max_bytes)
        state = fetch_of(request)
        if exchange is not None and state is not None:
            note_archived(request, self.recorder.archive(exchange, state.target.id))

    def flush(self, spider: Any) -> None:
        self.recorder.flush()

    def process_item(self, item: Any) -> Any:
        """Record the outcome (with `--accept` applied) and count what was recorded."""
        if not isinstance(item, Outcome):
            return item
        if refused_by_settings(item.observation):
            self.tally.refused(item)  # not a check of the link: nothing recorded
            return item
        if self.accept:
            item = replace(item, judgement=accepted(self.accept, item.host, item.observation,
                                                    item.judgement))
        self.recorder.add(item)
        self.tally.checked(item)
        return item
