"""The crawl's item pipeline: archives each target's responses and records each result.

Scrapy builds it from the crawl's settings (`ITEM_PIPELINES`); the Recorder it feeds is
made, and closed, by rotwatch/crawl_process, and reaches it as the `ROTWATCH_RECORDER`
setting of that crawler. Responses come from the `response_downloaded` signal (the bytes
as the server sent them), results as the spider's `Outcome` items. Nothing here blocks:
the Recorder's worker thread writes the WARC files and the store.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer

from core.operator_rules import AcceptRule, accepted, refused_by_settings
from crawler.fetch.archiving import note_archived, snapshot_of
from crawler.fetch.hops import fetch_of
from crawler.fetch.items import Outcome
from rotwatch.recorder import Recorder

LOG = logging.getLogger(__name__)
RECORDER = "ROTWATCH_RECORDER"
# A wait for room never hangs the crawl: after this long the item goes on regardless
# (the worker is stuck, and its error is reported when the Recorder closes).
ROOM_WAIT_SECONDS = 60
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
        if self.recorder.backlog.full:
            # Bodies pile up faster than they are archived and extracted: this item (and
            # with it Scrapy's scraper slot, hence new downloads) waits for room.
            self.recorder.flush()
            return self._when_room(item)
        return item

    async def _when_room(self, item: Outcome) -> Outcome:
        # Imported here: importing it at module level would install Twisted's default
        # reactor before Scrapy installs the asyncio one.
        from twisted.internet import reactor

        room: defer.Deferred[None] = defer.Deferred()

        def fire() -> None:  # in the reactor thread
            if not room.called:  # the timeout may have come first
                room.callback(None)

        self.recorder.backlog.when_room(
            lambda: reactor.callFromThread(fire))
        room.addTimeout(ROOM_WAIT_SECONDS, reactor)
        try:
            await maybe_deferred_to_future(room)
        except defer.TimeoutError:
            LOG.warning("the recorder has not freed room for %d s; going on", ROOM_WAIT_SECONDS)
        return item
