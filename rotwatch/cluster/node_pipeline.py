"""The node's item pipeline: archives a target's responses and turns results into JSON.

Where a local crawl's Recorder writes the store, a node has no store: it writes WARC files
into its attempt's directory, or its local spool for an object store (one worker thread,
as the Recorder does), extracts each page's main text (in a spawned process, as the
Recorder does) and hands the feed export a plain `NodeResult` dict, with every record it
archived for the target (hops, retried attempts), as the Recorder stores them. A node
cannot ask the store for older payloads: its revisits name the earlier records its shard's
target list gives per target (`DueTarget.originals`), or records of its own job.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response

from archive.warc.writer import SnapshotWriter, format_warc_date, parse_warc_date
from core.content_coding import is_text, media_type
from core.exchange import ArchivedRecord, Exchange
from core.records import Capture
from crawler.fetch.archiving import note_archived, snapshot_of
from crawler.fetch.hops import fetch_of
from crawler.fetch.items import Outcome
from rotwatch.cluster.node_spider import NodeCheckSpider
from rotwatch.cluster.results import NodeCapture, NodeResult, to_json
from rotwatch.drift import MainText
from rotwatch.main_text_worker import TextExtractor
from rotwatch.recorder import SHORT_PAGE_CHARS

LOG = logging.getLogger(__name__)


class NodePipeline:
    def __init__(self, spider: NodeCheckSpider, *, max_bytes: int, snapshots: bool,
                 warc_max_bytes: int) -> None:
        self.spider = spider
        self.max_bytes = max_bytes
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rotwatch-warc")
        self._extractor = TextExtractor()
        self._warc: SnapshotWriter | None = None
        # payload digest -> the earlier record a revisit names (from the targets' lines)
        self._originals: dict[str, tuple[str, datetime]] = {}
        # target id -> its responses archived so far (worker thread only)
        self._captures: dict[int, list[NodeCapture]] = {}
        if snapshots:
            # Named after the run, shard and attempt: unique across nodes and attempts.
            self._warc = SnapshotWriter(spider.attempt_dir.warcs,
                                        prefix=spider.output.warc_prefix,
                                        max_file_bytes=warc_max_bytes,
                                        lookup_digest=self._originals.get)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        spider = crawler.spider
        if not isinstance(spider, NodeCheckSpider):
            raise TypeError(f"NodePipeline runs with the node spider, not {spider!r}")
        settings = crawler.settings
        pipeline = cls(spider, max_bytes=settings.getint("ROTWATCH_MAX_BYTES"),
                       snapshots=settings.getbool("ROTWATCH_SNAPSHOTS"),
                       warc_max_bytes=settings.getint("ROTWATCH_WARC_MAX_BYTES"))
        if pipeline._warc is not None:
            crawler.signals.connect(pipeline.archive, signal=signals.response_downloaded)
        return pipeline

    def archive(self, response: Response, request: Request, spider: Any) -> None:
        exchange = snapshot_of(response, request, self.max_bytes)
        state = fetch_of(request)
        if exchange is not None and state is not None and self._warc is not None:
            note_archived(request, self._executor.submit(self._write, exchange,
                                                         state.target.id,
                                                         state.target.originals))

    def _write(self, exchange: Exchange, target_id: int,
               originals: tuple[Capture, ...]) -> ArchivedRecord | None:
        assert self._warc is not None
        for capture in originals:  # what the store would answer for these payloads
            self._originals.setdefault(capture.payload_digest,
                                       (capture.uri, parse_warc_date(capture.date)))
        try:
            record = self._warc.write(exchange)
        except OSError as exc:  # a full disk must not lose the check itself
            LOG.error("cannot write WARC record for %s: %s", exchange.url, exc)
            return None
        content_type = next((v for k, v in exchange.response_headers
                             if k.lower() == "content-type"), None)
        self._captures.setdefault(target_id, []).append(NodeCapture(
            record, exchange.url, exchange.status, format_warc_date(exchange.fetched_at),
            media_type(content_type) or None))
        return record

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Outcome):
            return item
        record = await asyncio.wrap_future(item.warc) if item.warc is not None else None
        # Through the (FIFO) worker: every response of this target is archived by now.
        captures = await asyncio.wrap_future(
            self._executor.submit(self._captures.pop, item.target_id, []))
        # As the Recorder does: a revisit of a payload the store holds takes its original's
        # text when gathered, not extracted again. A revisit of this job's own payload is
        # extracted: its original's result may be gathered after it.
        stored = (record is not None and record.record_type == "revisit"
                  and record.payload_digest in self._originals)
        main = None if stored else await self._main_text(item)
        return to_json(NodeResult(
            target_id=item.target_id, key=item.key, host=item.host,
            checked_at=item.checked_at, observation=item.observation,
            judgement=item.judgement, vantage=self.spider.vantage, archived=record,
            main_title=main.title if main else None, main_text=main.text if main else None,
            validators=item.validators, captures=tuple(captures)))

    async def _main_text(self, item: Outcome) -> MainText | None:
        obs = item.observation
        if item.body is None or not is_text(obs.content_type) or not obs.status \
                or obs.status >= 300:
            return None
        if len(obs.text) < SHORT_PAGE_CHARS:
            # As the Recorder does: a page this short is all main text.
            return MainText(obs.title or "", obs.text, "visible-text")
        try:
            return await asyncio.wrap_future(
                self._extractor.submit(item.body, obs.final_url, item.encoding))
        except Exception as exc:  # a page that defeats extraction keeps its check
            LOG.warning("no main text for %s: %s", obs.final_url, exc)
            return None

    def close_spider(self) -> None:
        self._extractor.close()
        if self._warc is not None:
            self._executor.submit(self._warc.close).result()
        self._executor.shutdown(wait=True)
