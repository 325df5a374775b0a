"""The check spider: one polite GET per target, every hop judged, an honest verdict.

Targets stream from the store (`async def start()`), each request carries its target as a
typed `TargetFetch` in `meta` with `dont_filter=True` (the dupefilter must never hide a
target), redirects are followed here one hop at a time, and each target ends in one
`Outcome` item (the application's item pipeline records it). Hops and the clock are kept
by crawler.fetch.hops, the size cap by crawler.fetch.size_cap; the archive is fed by
signals (crawler.fetch.archiving), with the same response that feeds the verdict.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from twisted.python.failure import Failure

from core.content_coding import accepted_encodings, decode_body, is_text
from core.probes import probe_key, probe_url, without_parameter
from core.records import DueTarget, ErrorKind, Hop, Observation
from core.urls import CHECKABLE_SCHEMES
from core.verdict import FirstLook, first_look, judge
from crawler.fetch.archiving import response_headers
from crawler.fetch.backlog import BACKLOG, MAX_BACKLOG, wait_for_room
from crawler.fetch.content import page_facts
from crawler.fetch.download_handler import DEADLINE, remaining
from crawler.fetch.errors import classify
from crawler.fetch.hops import TARGET_FETCH, TargetFetch, fetch_of, hop_of
from crawler.fetch.items import Outcome
from crawler.fetch.size_cap import truncated

# Main-text extraction reads at most this much of a page: articles fit well inside it,
# and it bounds what waits in memory for the recorder's thread.
TEXT_BODY_LIMIT = 2_000_000
# How many targets may wait beyond the ones being downloaded (enough for the per-host
# queues to pick from many hosts at once).
QUEUE_AHEAD = 1000


class CheckSpider(scrapy.Spider):
    name = "rotwatch-check"

    def __init__(self, *, targets: Iterable[DueTarget], probe_token: str,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.targets = targets
        self.probe_token = probe_token
        self._probes: dict[str, asyncio.Future[Probes]] = {}
        # Targets started and not yet finished, and a wake-up for start() when one ends.
        self._open: set[int] = set()
        self._room = asyncio.Event()
        # Set from the crawler's settings in from_crawler.
        self.max_bytes = 10_000_000
        self.max_redirects = 10
        self.probing = True
        self.max_open = QUEUE_AHEAD
        self.backlog: Callable[[], int] | None = None  # results the recorder still holds
        self.max_backlog = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> CheckSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.max_bytes = settings.getint("ROTWATCH_MAX_BYTES")
        spider.max_redirects = settings.getint("ROTWATCH_MAX_REDIRECTS")
        spider.probing = settings.getbool("ROTWATCH_SOFT404_PROBE")
        spider.max_open = QUEUE_AHEAD + settings.getint("CONCURRENT_REQUESTS")
        spider.backlog = settings.get(BACKLOG)
        spider.max_backlog = settings.getint(MAX_BACKLOG)
        # Scrapy logs every response and every item at DEBUG, and leaves the root logger
        # at NOTSET: each call built a LogRecord (finding its caller on the stack) that the
        # handler, at LOG_LEVEL, then dropped (~2 % of a crawl's samples). At the logger,
        # the call stops at its level check; what reaches the handler is unchanged.
        logging.getLogger("scrapy").setLevel(settings.get("LOG_LEVEL") or logging.DEBUG)
        # A target whose request is dropped or whose callback fails never reaches _finish;
        # without these, start() would wait for it forever.
        crawler.signals.connect(spider._dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider._errored, signal=signals.spider_error)
        return spider

    async def start(self) -> AsyncIterator[Request]:
        # Scrapy keeps pulling from start() even while the downloader is full, which would
        # move every due target into the scheduler's memory. Hold back instead while enough
        # targets are open: memory then stays flat however many targets are due.
        for target in self.targets:
            while len(self._open) >= self.max_open:
                self._room.clear()
                await self._room.wait()
            await wait_for_room(self.backlog, self.max_backlog)
            self._open.add(target.id)
            yield self._request(target.url, TargetFetch(target), deadline=None)

    def _release(self, state: TargetFetch | None) -> None:
        if state is not None:
            self._open.discard(state.target.id)
            if len(self._open) < self.max_open:
                self._room.set()

    def _dropped(self, request: Request, spider: Any) -> None:
        self._release(fetch_of(request))

    def _errored(self, failure: Failure, response: Response, spider: Any) -> None:
        self._release(fetch_of(response.request))

    def _request(self, url: str, state: TargetFetch, *, deadline: float | None) -> Request:
        meta: dict[str, Any] = {TARGET_FETCH: state, "handle_httpstatus_all": True,
                                "dont_redirect": True}
        if deadline is not None:  # a later hop: the target's clock is already running
            meta[DEADLINE] = deadline
        else:
            # A target's first request, for the scheduler's FIFO start queue (Scrapy's
            # StartSpiderMiddleware would set it; it is off, see crawler/fetch/settings.py).
            meta["is_start_request"] = True
        # A later hop goes ahead of targets not yet started: its target's budget is running.
        request = Request(url, callback=self.parse, errback=self.failed, dont_filter=True,
                          headers={"Accept-Encoding": accepted_encodings()}, meta=meta,
                          priority=0 if deadline is None else 1)
        validators = state.target.validators
        if validators is not None:
            # The last good capture's ETag / Last-Modified, on the request for its URL (as
            # Scrapy normalised it, like the capture's): an unchanged page answers 304.
            request.headers.update(validators.request_headers(request.url))
        return request

    # ---- callbacks ---------------------------------------------------------------------
    async def parse(self, response: Response) -> AsyncIterator[Request | Outcome]:
        state = fetch_of(response.request)
        assert state is not None and state.hops, "a target's response, its hop recorded"
        target, hops, meta = state.target, state.hops, response.meta
        hop = hops[-1]
        if 300 <= response.status < 400 and response.status != 304 and hop.location:
            following = urljoin(response.url, hop.location)
            if not _fetchable(following):
                # file:, data:, ftp:… would read local files or reach other services.
                yield self._finish(state, Observation(
                    url=target.url, hops=hops, error=ErrorKind.UNSUPPORTED,
                    retries=meta.get("retry_times", 0), elapsed=state.elapsed(),
                    error_message=f"redirects to a {_scheme(following)}: URL; only http and "
                                  "https are ever fetched"))
                return
            visited = {h.url for h in hops}
            if following not in visited and len(hops) <= self.max_redirects:
                yield self._request(following, TargetFetch(target, hops, state.elapsed()),
                                    deadline=meta.get(DEADLINE))
                return
            kind = (ErrorKind.REDIRECT_LOOP if following in visited
                    else ErrorKind.TOO_MANY_REDIRECTS)
            yield self._finish(state, Observation(
                url=target.url, hops=hops, error=kind, retries=meta.get("retry_times", 0),
                error_message=f"{kind.value} after {len(hops)} hops, next {following}",
                elapsed=state.elapsed()))
            return
        observation, decoded = self._observe(target.url, response, hops, state.elapsed(),
                                             validated=target.validators is not None)
        probes = Probes(None, None)
        left = remaining(meta)
        look = first_look(observation)  # the cheap rules, run once for the probe and verdict
        # A probe needs time of its own; without it the verdict rests on the cheap rules.
        if self.probing and look.needs_probe and (left is None or left > 1.0):
            probes = await self._probe(observation.url, meta.get(DEADLINE))
        yield self._finish(state, observation, probes, decoded, look)

    async def failed(self, failure: Failure) -> AsyncIterator[Outcome]:
        request = failure.request  # type: ignore[attr-defined]
        state = fetch_of(request)
        if state is None:
            return
        kind, message = classify(failure.value or Exception("unknown failure"))
        yield self._finish(state, Observation(
            url=state.target.url, hops=state.hops, error=kind, error_message=message,
            retries=request.meta.get("retry_times", 0), elapsed=state.elapsed()))

    def _observe(self, url: str, response: Response, hops: tuple[Hop, ...],
                 elapsed: float, *, validated: bool = False) -> tuple[Observation, bytes]:
        """The observation of a final response, and its body decoded within the cap.

        `validated`: the target has validators, so its requests may carry them (only then
        are the request's headers read)."""
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1") or None
        request_headers = response.request.headers if validated and response.request else {}
        conditional = bool(request_headers.get(b"If-None-Match")
                           or request_headers.get(b"If-Modified-Since"))
        if response.status == 304:
            # No body to read: a conditional 304 is the capture judged before, unchanged.
            return Observation(
                url=url, hops=hops, headers=response_headers(response, response.meta),
                content_type=content_type, elapsed=elapsed,
                retries=response.meta.get("retry_times", 0), conditional=conditional), b""
        encoding = _charset(content_type)
        decoded = decode_body(response.body, (response.headers.get(
            b"Content-Encoding") or b"").decode("latin-1"), self.max_bytes)
        facts = page_facts(decoded.data, content_type, encoding)
        return Observation(
            url=url, hops=hops, headers=response_headers(response, response.meta),
            content_type=content_type, title=facts.title, heading=facts.heading,
            text=facts.text, elapsed=elapsed, retries=response.meta.get("retry_times", 0),
            truncated=truncated(response, self.max_bytes) or decoded.truncated,
            length=len(response.body), conditional=conditional), decoded.data

    def _finish(self, state: TargetFetch, observation: Observation,
                probes: Probes | None = None, body: bytes | None = None,
                look: FirstLook | None = None) -> Outcome:
        """The target's result; it no longer counts as open."""
        self._release(state)
        probe, unnamed = probes or (None, None)
        judgement = look.judgement(probe, unnamed) if look is not None else \
            judge(observation, probe, unnamed)
        content_type = observation.content_type
        if body is not None and not is_text(content_type):
            body = None  # only pages have main text to compare
        target = state.target
        return Outcome(
            target_id=target.id, key=target.key, host=target.host, observation=observation,
            judgement=judgement, checked_at=datetime.now(UTC),
            body=body[:TEXT_BODY_LIMIT] if body else None,
            encoding=_charset(content_type), warc=state.warc, validators=target.validators)

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
        started = time.monotonic()
        for _ in range(self.max_redirects + 1):
            # Its own download slot: in the host's slot the probe would queue behind every
            # target already waiting there, and each of their verdicts waits for it. At most
            # `concurrency_per_host` probes are in flight per host, one per path prefix.
            meta: dict[str, Any] = {
                "handle_httpstatus_all": True, "dont_redirect": True,
                "download_slot": f"rotwatch-probe:{_netloc(current)}"}
            if deadline is not None:  # the probe spends the budget of the target it serves
                meta[DEADLINE] = deadline
            request = Request(current, dont_filter=True, meta=meta,
                              headers={"Accept-Encoding": accepted_encodings()})
            try:
                response = await self.crawler.engine.download_async(request)
            except Exception:
                return None  # a probe that fails says nothing about the target
            hop = hop_of(response)
            hops = (*hops, hop)
            if not (300 <= response.status < 400 and hop.location):
                return self._observe(url, response, hops, time.monotonic() - started)[0]
            current = urljoin(response.url, hop.location)
            if current in {h.url for h in hops} or not _fetchable(current):
                return None
        return None


class Probes(NamedTuple):
    """A target's missing sibling and, for a page named by a query parameter, the page
    without that parameter (None when not fetched or when the fetch failed)."""

    sibling: Observation | None
    unnamed: Observation | None


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower() or "relative"


def _fetchable(url: str) -> bool:
    """Only http and https, on every hop of every request."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in CHECKABLE_SCHEMES and bool(parts.hostname)


def _netloc(url: str) -> str:
    return urlsplit(url).netloc


@lru_cache(maxsize=64)  # twice per page, and a crawl sees few distinct Content-Types
def _charset(content_type: str | None) -> str | None:
    if not content_type or "charset=" not in content_type.lower():
        return None
    value = content_type.lower().split("charset=", 1)[1].split(";")[0].strip().strip('"\'')
    return value or None
