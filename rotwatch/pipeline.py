"""The crawl's item pipeline: archives each target's responses and records each result.

Scrapy builds it from the crawl's settings (`ITEM_PIPELINES`); the Recorder it feeds is
made, and closed, by rotwatch/crawl_process, and reaches it as the `ROTWATCH_RECORDER`
setting of that crawler. Responses come from the `response_downloaded` signal (the bytes
as the server sent them), results as the spider's `Outcome` items. Nothing here blocks:
the Recorder's worker thread writes the WARC files and the store.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response

from core.operator_rules import AcceptRule, accepted, refused_by_settings
from crawler.fetch.archiving import note_archived, snapshot_of
from crawler.fetch.hops import fetch_of
from crawler.fetch.items import Outcome
from rotwatch.recorder import Recorder

RECORDER = "ROTWATCH_RECORDER"
ACCEPT = "ROTWATCH_ACCEPT"  # `--accept` rules as given (core.operator_rules.AcceptRule)


class RecordPipeline:
    def __init__(self, recorder: Recorder, max_bytes: int,
                 accept: tuple[AcceptRule, ...] = ()) -> None:
        self.recorder = recorder
        self.max_bytes = max_bytes
        self.accept = accept

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        recorder = crawler.settings.get(RECORDER)
        if not isinstance(recorder, Recorder):
            raise TypeError(f"the {RECORDER} setting must be a Recorder, got {recorder!r}")
        accept = tuple(AcceptRule.parse(rule) for rule in crawler.settings.getlist(ACCEPT))
        pipeline = cls(recorder, crawler.settings.getint("ROTWATCH_MAX_BYTES"), accept)
        if recorder.archiving:
            crawler.signals.connect(pipeline.archive, signal=signals.response_downloaded)
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
        """Record the outcome (with `--accept` applied); the item returned is the one the
        `item_scraped` signal carries, so counts see what was recorded."""
        if not isinstance(item, Outcome) or refused_by_settings(item.observation):
            return item  # a refusal by the operator's settings is not a check of the link
        if self.accept:
            item = replace(item, judgement=accepted(self.accept, item.host, item.observation,
                                                    item.judgement))
        self.recorder.add(item)
        return item
