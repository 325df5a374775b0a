"""What Scrapy lacks for honest health checks: a complete robots.txt wait, an address
guard, retries that back off, and Retry-After."""

from __future__ import annotations

import asyncio
from typing import Any, Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import CannotResolveHostError
from scrapy.http import Response
from scrapy.robotstxt import RobotParser
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import load_object
from twisted.internet.error import DNSLookupError

from crawler.fetch.download_handler import remaining
from crawler.fetch.errors import RobotsDisallowed
from crawler.fetch.hops import fetch_of
from crawler.fetch.resolver import PublicOnlyResolver, installed_resolver
from crawler.fetch.scheduler import HoldingScheduler, hold_until


class CompleteRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots middleware, with three fixes.

    1. Scrapy 2.14–2.19 hands the *same* Deferred to every request that arrives while
       robots.txt is loading; after the first two waiters the Deferred's result has been
       consumed and later waiters get None, which means "allow everything". Here every
       waiter re-reads the settled parser once the wait is over, so no disallowed URL is
       ever fetched, however many requests wait.
    2. A disallowed URL raises RobotsDisallowed, so the verdict can say so precisely.
    3. A robots.txt cut at the size cap is read up to its last whole line.
    """

    async def robot_parser(self, request: Request) -> RobotParser | None:
        await super().robot_parser(request)
        settled = self._parsers.get(urlparse_cached(request).netloc)
        return settled if isinstance(settled, RobotParser) else None

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if "download_stopped" in response.flags:
            # Cut at the size cap: the last line may be half a rule ("Disallow: /" of
            # "Disallow: /private/"). Keep whole lines only.
            body = response.body
            response = response.replace(body=body[: body.rfind(b"\n") + 1])
        await super()._parse_robots(response, netloc, request)

    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        try:
            super().process_request_2(rp, request)
        except Exception as exc:
            raise RobotsDisallowed(f"robots.txt disallows {request.url}") from exc


class AddressGuardMiddleware:
    """Refuse targets whose host is, or resolves to, a non-public address (every hop).

    The decision is the crawl's resolver's (crawler/resolver.py, installed as the reactor's
    name resolver): it refuses a name if *any* address it answers is loopback, private,
    link-local or reserved, unless `allow_private_addresses` is set, and the connection
    then uses the very answer it checked. Asking it here, before the download, makes a
    refusal a PrivateAddressRefused at once (not retried; a private-address verdict), for
    robots.txt and soft-404 probes as for checks. A name that does not exist is a
    dns-failure. Should the resolver refuse only when Twisted connects (the answer changed
    after this check and fell out of its cache), Twisted reports "no results";
    process_exception names that as the refusal it was.
    """

    def __init__(self, allow_private: bool, dns_timeout: float = 30.0,
                 resolver: PublicOnlyResolver | None = None) -> None:
        self.allow_private = allow_private
        self.dns_timeout = dns_timeout
        self._chosen = resolver

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.settings.getbool("ROTWATCH_ALLOW_PRIVATE"),
                   crawler.settings.getfloat("DNS_TIMEOUT"))

    def _resolver(self) -> PublicOnlyResolver:
        # Looked up on use, not in from_crawler: Scrapy installs the reactor's resolver
        # when the process starts, after the middlewares may have been built.
        if self._chosen is None:
            self._chosen = installed_resolver() or PublicOnlyResolver(
                # Another resolver was configured: still refuse before connecting.
                None, allow_private=self.allow_private, timeout=self.dns_timeout)
        return self._chosen

    async def process_request(self, request: Request) -> None:
        host = urlparse_cached(request).hostname or ""
        if self.allow_private or not host:
            return
        await self._resolver().check(host)

    def process_exception(self, request: Request, exception: Exception) -> None:
        host = urlparse_cached(request).hostname or ""
        if self.allow_private or not host:
            return
        if isinstance(exception, (CannotResolveHostError, DNSLookupError)):
            refusal = self._resolver().refusal(host)
            if refusal is not None:
                raise refusal from exception


# A retry is only worth starting with at least this much of the target's budget left.
MIN_ATTEMPT_SECONDS = 1.0


def _holds_retries(crawler: Crawler) -> bool:
    """Whether the crawl's scheduler holds a retry until its wait is over."""
    # Not issubclass(): Scrapy's scheduler metaclass makes that true of any class with
    # the scheduler methods.
    return HoldingScheduler in load_object(crawler.settings["SCHEDULER"]).__mro__


async def _wait_before(retry: Request, original: Request, wait: float,
                       holding: bool) -> Request:
    """The retry, to be sent `wait` seconds from now.

    A target's retry goes back through the engine to the scheduler, which holds it until
    then without taking a place of CONCURRENT_REQUESTS (crawler/fetch/scheduler.py).
    robots.txt and soft-404 probes are downloaded directly (`engine.download_async`
    sends a returned request straight back to the downloader, past the scheduler), so
    their wait happens here, as every wait did before.
    """
    if holding and fetch_of(original) is not None:
        return hold_until(retry, wait)
    if wait > 0:
        await asyncio.sleep(wait)
    return retry


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry, with exponential backoff before each retry.

    Scrapy re-queues a failed request at once, so a host that is briefly down gets every
    retry within the same second. Here the n-th retry waits base × 2^(n-1) seconds
    (capped), held by the scheduler (see `_wait_before`), like a Retry-After wait.
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        middleware = super().from_crawler(crawler)
        middleware.backoff = crawler.settings.getfloat("ROTWATCH_RETRY_BACKOFF")
        middleware.holding = _holds_retries(crawler)
        return middleware

    backoff: float = 1.0
    holding: bool = False

    def _pause(self, retry: Request) -> float:
        attempt = int(retry.meta.get("retry_times", 1))
        return min(30.0, self.backoff * 2 ** (attempt - 1)) if self.backoff > 0 else 0.0

    async def process_response(self, request: Request, response: Response,  # type: ignore[override]
                               spider: Any = None) -> Any:
        # No time left to retry: the answer we have is the finding.
        return await self._pause_or(request, super().process_response(request, response),
                                    give_up=response)

    async def process_exception(self, request: Request, exception: Exception,  # type: ignore[override]
                                spider: Any = None) -> Any:
        # No time left to retry: the failure goes on to the errback (None).
        return await self._pause_or(request, super().process_exception(request, exception),
                                    give_up=None)

    async def _pause_or(self, request: Request, result: Any, *, give_up: Any) -> Any:
        """The retry, to wait its pause if that fits the target's budget; else `give_up`."""
        if isinstance(result, Request):
            pause = self._pause(result)
            if not _fits_budget(request, pause):
                return give_up
            return await _wait_before(result, request, pause, self.holding)
        return result


def _fits_budget(request: Request, wait: float) -> bool:
    """Whether waiting `wait` seconds still leaves the target time for another attempt."""
    left = remaining(request.meta)
    return left is None or wait + MIN_ATTEMPT_SECONDS < left


class RetryAfterMiddleware:
    """429, and 503 with Retry-After: wait as told (capped), then retry, counting retries.

    Scrapy's RetryMiddleware retries 429 at once, ignoring Retry-After, which is both
    rude and useless. The retry is not sent before the wait is over (held by the
    scheduler, see `_wait_before`). The host's other requests are not paused meanwhile:
    they were not before either, as Scrapy frees the host slot as soon as the response is
    in, before any middleware sees it.
    """

    def __init__(self, cap: float, max_retries: int, holding: bool = False) -> None:
        self.cap = cap
        self.max_retries = max_retries
        self.holding = holding

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler.settings.getfloat("ROTWATCH_RETRY_AFTER_CAP"),
                   crawler.settings.getint("ROTWATCH_RETRY_TIMES"), _holds_retries(crawler))

    async def process_response(self, request: Request, response: Response) -> Any:
        if response.status not in (429, 503):
            return response
        header = response.headers.get(b"Retry-After")
        if response.status == 503 and header is None:
            return response  # plain 503: Scrapy's RetryMiddleware retries with backoff
        retries = int(request.meta.get("retry_times", 0))
        if retries >= self.max_retries:
            return response
        delay = min(self.cap, parse_retry_after(header.decode("latin-1") if header else ""))
        if not _fits_budget(request, delay):
            return response  # the wait asked for outlasts the target's budget: it stays a 429
        # Ahead of targets not yet started, like every retry (RETRY_PRIORITY_ADJUST).
        retry = request.replace(dont_filter=True, priority=request.priority + 1)
        retry.meta["retry_times"] = retries + 1
        retry.meta["retry_after_waited"] = request.meta.get("retry_after_waited", 0.0) + delay
        return await _wait_before(retry, request, delay, self.holding)


def parse_retry_after(value: str, default: float = 5.0) -> float:
    """Seconds from a Retry-After value (delta-seconds or an HTTP date)."""
    value = value.strip()
    if not value:
        return default
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    from datetime import UTC, datetime

    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
