"""The check spider: one polite GET per target, every hop recorded, an honest verdict.

Targets stream from the store (`async def start()`), each request carries its target in
`meta` with `dont_filter=True` (the dupefilter must never hide a target), redirects are
followed here one hop at a time, and each result goes to the ResultSink it is given (the
application's Recorder writes it from its own thread). The same response feeds the verdict
and the WARC snapshot.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import StopDownload
from scrapy.http import Response
from twisted.python.failure import Failure

from core.content_coding import accepted_encodings, decode_body, is_text
from core.exchange import Exchange
from core.probes import probe_key, probe_url, without_parameter
from core.records import DueTarget, ErrorKind, Hop, Observation, Verdict
from core.urls import CHECKABLE_SCHEMES
from core.verdict import judge, needs_probe
from crawler.fetch.content import page_facts
from crawler.fetch.download_handler import DEADLINE, remaining
from crawler.fetch.errors import classify
from crawler.fetch.items import Outcome, ResultSink

# Main-text extraction reads at most this much of a page: articles fit well inside it,
# and it bounds what waits in memory for the recorder's thread.
TEXT_BODY_LIMIT = 2_000_000
# How many requests may wait in the scheduler (enough for the per-host queues to pick
# from many hosts at once).
QUEUE_AHEAD = 1000
# Sent once per target with its final verdict (kwargs: verdict, url).
target_checked = object()
TARGET, HOPS, STARTED, WARC, PROBE = ("rw_target", "rw_hops", "rw_started", "rw_warc",
                                      "rw_probe")


def _headers(raw: Any) -> tuple[tuple[str, str], ...]:
    return tuple((k.decode("latin-1"), v.decode("latin-1"))
                 for k, values in raw.items() for v in values)


class CheckSpider(scrapy.Spider):
    name = "rotwatch-check"

    def __init__(self, *, targets: Iterable[DueTarget], recorder: ResultSink, probe_token: str,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.targets = targets
        self.recorder = recorder
        self.probe_token = probe_token
        self.verdicts: Counter[Verdict] = Counter()
        self._probes: dict[str, asyncio.Future[Probes]] = {}
        # Set from the crawler's settings in from_crawler.
        self.max_bytes = 10_000_000
        self.max_redirects = 10
        self.probing = True

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> CheckSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.max_bytes = settings.getint("ROTWATCH_MAX_BYTES")
        spider.max_redirects = settings.getint("ROTWATCH_MAX_REDIRECTS")
        spider.probing = settings.getbool("ROTWATCH_SOFT404_PROBE")
        crawler.signals.connect(spider.archive_response, signal=signals.response_downloaded)
        crawler.signals.connect(spider.enforce_size_cap, signal=signals.bytes_received)
        crawler.signals.connect(spider.mark_sent, signal=signals.request_reached_downloader)
        crawler.signals.connect(spider.recorder.flush, signal=signals.spider_idle)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        # Scrapy keeps pulling from start() even while the downloader is full, which would
        # move every due target into the scheduler's memory. Hold back instead once enough
        # are queued: memory then stays flat however many targets are due.
        for target in self.targets:
            while self._queued() >= QUEUE_AHEAD:
                await asyncio.sleep(0.02)
            yield self._request(target.url, target, (), deadline=None)

    def _queued(self) -> int:
        scheduler = self.crawler.engine.scheduler if self.crawler.engine else None
        return len(scheduler) if scheduler is not None and hasattr(scheduler, "__len__") else 0

    def _request(self, url: str, target: DueTarget, hops: tuple[Hop, ...],
                 spent: float = 0.0, *, deadline: float | None) -> Request:
        meta = {TARGET: target, HOPS: hops, STARTED: spent,
                "handle_httpstatus_all": True, "dont_redirect": True}
        if deadline is not None:  # a later hop: the target's clock is already running
            meta[DEADLINE] = deadline
        return Request(url, callback=self.parse, errback=self.failed, dont_filter=True,
                       headers={"Accept-Encoding": accepted_encodings()}, meta=meta)

    # ---- signals (reactor thread; no blocking work here) -------------------------------
    def mark_sent(self, request: Request, spider: Any) -> None:
        request.meta["rw_sent"] = time.monotonic()
        request.meta["rw_bytes"] = 0  # a retry copies meta; its size count starts afresh

    def enforce_size_cap(self, data: bytes, request: Request, spider: Any) -> None:
        received = request.meta.get("rw_bytes", 0) + len(data)
        request.meta["rw_bytes"] = received
        if received > self.max_bytes:
            # fail=False: the response arrives, cut, and is recorded as truncated.
            raise StopDownload(fail=False)

    def archive_response(self, response: Response, request: Request, spider: Any) -> None:
        if TARGET not in request.meta or request.meta.get(PROBE) or not self.recorder.archiving:
            return  # robots.txt and soft-404 probes are not snapshots of a cited target
        status = response.status
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        exchange = Exchange(
            url=response.url, method=request.method, request_headers=_headers(request.headers),
            status=status, reason=reason, http_version="HTTP/1.1",
            response_headers=_headers(response.headers), body=response.body[: self.max_bytes],
            truncated=self._truncated(response), fetched_at=datetime.now(UTC),
            ip_address=str(response.ip_address) if response.ip_address else None)
        request.meta[WARC] = self.recorder.archive(exchange)

    def _truncated(self, response: Response) -> bool:
        return "download_stopped" in response.flags or len(response.body) > self.max_bytes

    # ---- callbacks ---------------------------------------------------------------------
    async def parse(self, response: Response) -> AsyncIterator[Request]:
        meta = response.meta
        target: DueTarget = meta[TARGET]
        location = response.headers.get(b"Location")
        hop = Hop(response.url, response.status,
                  location.decode("latin-1") if location else None)
        hops = (*meta[HOPS], hop)
        if 300 <= response.status < 400 and response.status != 304 and location:
            following = urljoin(response.url, hop.location or "")
            if not _fetchable(following):
                # file:, data:, ftp:… would read local files or reach other services.
                self._finish(target, Observation(
                    url=target.url, hops=hops, error=ErrorKind.UNSUPPORTED,
                    retries=meta.get("retry_times", 0), elapsed=_elapsed(meta),
                    error_message=f"redirects to a {_scheme(following)}: URL; only http and "
                                  "https are ever fetched"), meta)
                return
            visited = {h.url for h in hops}
            if following not in visited and len(hops) <= self.max_redirects:
                yield self._request(following, target, hops, _elapsed(meta),
                                    deadline=meta.get(DEADLINE))
                return
            kind = (ErrorKind.REDIRECT_LOOP if following in visited
                    else ErrorKind.TOO_MANY_REDIRECTS)
            self._finish(target, Observation(
                url=target.url, hops=hops, error=kind, retries=meta.get("retry_times", 0),
                error_message=f"{kind.value} after {len(hops)} hops, next {following}",
                elapsed=_elapsed(meta)), meta)
            return
        observation = self._observe(target.url, response, hops)
        probes = Probes(None, None)
        left = remaining(meta)
        # A probe needs time of its own; without it the verdict rests on the cheap rules.
        if self.probing and needs_probe(observation) and (left is None or left > 1.0):
            probes = await self._probe(observation.url, meta.get(DEADLINE))
        self._finish(target, observation, meta, probes, response)

    async def failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        meta = request.meta
        if TARGET not in meta:
            return
        kind, message = classify(failure.value or Exception("unknown failure"))
        self._finish(meta[TARGET], Observation(
            url=meta[TARGET].url, hops=meta[HOPS], error=kind, error_message=message,
            retries=meta.get("retry_times", 0), elapsed=_elapsed(meta)), meta)

    def _observe(self, url: str, response: Response, hops: tuple[Hop, ...]) -> Observation:
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1") or None
        encoding = _charset(content_type)
        decoded = decode_body(response.body, (response.headers.get(
            b"Content-Encoding") or b"").decode("latin-1"), self.max_bytes)
        facts = page_facts(decoded.data, content_type, encoding)
        response.meta["rw_decoded"] = decoded.data
        return Observation(
            url=url, hops=hops, headers=_headers(response.headers), content_type=content_type,
            title=facts.title, heading=facts.heading, text=facts.text,
            elapsed=_elapsed(response.meta),
            retries=response.meta.get("retry_times", 0),
            truncated=self._truncated(response) or decoded.truncated,
            length=len(response.body))

    def _finish(self, target: DueTarget, observation: Observation, meta: dict[str, Any],
                probes: Probes | None = None, response: Response | None = None) -> None:
        probe, unnamed = probes or (None, None)
        judgement = judge(observation, probe, unnamed)
        self.verdicts[judgement.verdict] += 1
        content_type = observation.content_type
        body = meta.get("rw_decoded") if response is not None else None
        if body is not None and not is_text(content_type):
            body = None  # only pages have main text to compare
        self.recorder.add(Outcome(
            target_id=target.id, key=target.key, host=target.host, observation=observation,
            judgement=judgement, checked_at=datetime.now(UTC),
            body=body[:TEXT_BODY_LIMIT] if body else None,
            encoding=_charset(content_type), warc=meta.get(WARC)))
        # Progress displays (and anything else) listen for this signal.
        self.crawler.signals.send_catch_log(signal=target_checked, verdict=judgement.verdict,
                                            url=target.url)

    # ---- soft-404 probes ---------------------------------------------------------------
    async def _probe(self, url: str, deadline: float | None) -> Probes:
        """The probe(s) for `url`, fetched once per probe key and shared."""
        key = probe_key(url)
        future = self._probes.get(key)
        if future is None:
            future = asyncio.ensure_future(self._fetch_probes(url, deadline))
            self._probes[key] = future
        return await future

    async def _fetch_probes(self, url: str, deadline: float | None) -> Probes:
        sibling = await self._fetch_probe(probe_url(url, self.probe_token), deadline)
        # Only for pages named by a query parameter, and only when the sibling could be
        # evidence: the same URL without the parameter tells whether the site reads it.
        bare = without_parameter(url)
        unnamed = None
        if bare is not None and sibling is not None and sibling.status is not None \
                and 200 <= sibling.status < 300:
            unnamed = await self._fetch_probe(bare, deadline)
        return Probes(sibling, unnamed)

    async def _fetch_probe(self, url: str, deadline: float | None) -> Observation | None:
        """GET a surely-missing sibling, following redirects the same way (bounded)."""
        hops: tuple[Hop, ...] = ()
        current = url
        for _ in range(self.max_redirects + 1):
            # Its own download slot: in the host's slot the probe would queue behind every
            # target already waiting there, and each of their verdicts waits for it. At most
            # `concurrency_per_host` probes are in flight per host, one per path prefix.
            meta: dict[str, Any] = {
                PROBE: True, STARTED: 0.0, "handle_httpstatus_all": True,
                "dont_redirect": True, "download_slot": f"rotwatch-probe:{_netloc(current)}"}
            if deadline is not None:  # the probe spends the budget of the target it serves
                meta[DEADLINE] = deadline
            request = Request(current, dont_filter=True, meta=meta,
                              headers={"Accept-Encoding": accepted_encodings()})
            try:
                response = await self.crawler.engine.download_async(request)
            except Exception:
                return None  # a probe that fails says nothing about the target
            location = response.headers.get(b"Location")
            hop = Hop(response.url, response.status,
                      location.decode("latin-1") if location else None)
            hops = (*hops, hop)
            if not (300 <= response.status < 400 and location):
                return self._observe(url, response, hops)
            current = urljoin(response.url, hop.location or "")
            if current in {h.url for h in hops} or not _fetchable(current):
                return None
        return None


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower() or "relative"


def _fetchable(url: str) -> bool:
    """Only http and https, on every hop of every request."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in CHECKABLE_SCHEMES and bool(parts.hostname)


class Probes(NamedTuple):
    """A target's missing sibling and, for a page named by a query parameter, the page
    without that parameter (None when not fetched or when the fetch failed)."""

    sibling: Observation | None
    unnamed: Observation | None


def _netloc(url: str) -> str:
    return urlsplit(url).netloc


def _elapsed(meta: dict[str, Any]) -> float:
    """Seconds spent downloading this target over all its hops (queueing excluded)."""
    sent = meta.get("rw_sent")
    return float(meta.get(STARTED, 0.0)) + (time.monotonic() - sent if sent else 0.0)


def _charset(content_type: str | None) -> str | None:
    if not content_type or "charset=" not in content_type.lower():
        return None
    value = content_type.lower().split("charset=", 1)[1].split(";")[0].strip().strip('"\'')
    return value or None
