"""The only place that turns rotwatch's crawl config into Scrapy settings.

Scrapy's defaults suit scraping, not health checks: a 180 s timeout, a 1 GiB size limit,
non-2xx responses dropped, 429 retried at once. Each override below says why.
"""

from __future__ import annotations

from typing import Any, Protocol

from crawler.fetch.backlog import MAX_BACKLOG

_MW = "crawler.fetch.middlewares"


class CrawlOptions(Protocol):
    """The crawl settings this module reads (the application's `[crawl]` config has them)."""

    @property
    def user_agent(self) -> str: ...
    @property
    def timeout(self) -> float: ...
    @property
    def target_budget(self) -> float: ...
    @property
    def concurrency_total(self) -> int: ...
    @property
    def concurrency_per_host(self) -> int: ...
    @property
    def delay_per_host(self) -> float: ...
    @property
    def obey_robots(self) -> bool: ...
    @property
    def retry_times(self) -> int: ...
    @property
    def retry_backoff(self) -> float: ...
    @property
    def retry_after_cap(self) -> float: ...
    @property
    def allow_private_addresses(self) -> bool: ...
    @property
    def max_mb(self) -> float: ...
    @property
    def max_redirects(self) -> int: ...
    @property
    def soft404_probe(self) -> bool: ...
    @property
    def batch_size(self) -> int: ...


# Scrapy components a check crawl does without, on top of those the settings below turn
# off for what they would do wrong. Each costs every request a call or more (a middleware
# method is a coroutine per call in Scrapy 2.19); benchmarks.floor_spider --trimmed runs
# the floor without them too.
UNUSED_DOWNLOADER_MIDDLEWARES: dict[str, None] = {
    # rotwatch sends no credentials (no HTTPAUTH_* setting, no http_user in meta).
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
    # CheckDownloadHandler gives every request its timeout (DOWNLOAD_TIMEOUT, cut to what
    # is left of the target's budget), and sets DEFAULT_REQUEST_HEADERS and USER_AGENT on
    # every request it sends (targets, hops, retries, probes and robots.txt): one place
    # instead of three middleware calls per request.
    "scrapy.downloadermiddlewares.downloadtimeout.DownloadTimeoutMiddleware": None,
    "scrapy.downloadermiddlewares.defaultheaders.DefaultHeadersMiddleware": None,
    "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": None,
    # Disabled by COOKIES_ENABLED = False already; None spares each crawl process importing
    # it (http.cookiejar and friends, ~50 ms).
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
    # Sized every request and response (the headers serialised again) for stats.
    "scrapy.downloadermiddlewares.stats.DownloaderStats": None,
    # Kept: HttpProxyMiddleware, which honours http_proxy / https_proxy (docs/security.md)
    # and turns a second vantage's meta["proxy"] credentials into its header.
}
# Each spider middleware left wraps every callback's output in an asynchronous generator.
UNUSED_SPIDER_MIDDLEWARES: dict[str, None] = {
    # Its one job, meta["is_start_request"] (which puts a request in the scheduler's FIFO
    # start queue), the spider does for a target's first request.
    "scrapy.spidermiddlewares.start.StartSpiderMiddleware": None,
    # Would drop non-2xx responses; every status is a finding and reaches the spider
    # (HTTPERROR_ALLOW_ALL, and handle_httpstatus_all in every request's meta).
    "scrapy.spidermiddlewares.httperror.HttpErrorMiddleware": None,
}
UNUSED_EXTENSIONS: dict[str, None] = {
    # Log the stats every minute, and count log records into them.
    "scrapy.extensions.logstats.LogStats": None,
    "scrapy.extensions.logcount.LogCount": None,
    # Reads the RSS every minute against a limit rotwatch never sets.
    "scrapy.extensions.memusage.MemoryUsage": None,
    # Scrapy 2.19 starts, in every crawl, an HTTP server on localhost that runs any Python
    # code sent to it (its token in a file under the user's profile): not something a
    # checker should open. Importing it (aiohttp.web) alone cost each crawl process about
    # 0.15 CPU-s.
    "scrapy.extensions.remote_control.RemoteControl": None,
}
SCRAPY_STATS = "scrapy.statscollectors.MemoryStatsCollector"
NO_STATS = "crawler.fetch.no_stats.NoStats"


def scrapy_settings(crawl: CrawlOptions, *, log_level: str = "WARNING",
                    scrapy_stats: bool = False) -> dict[str, Any]:
    """Scrapy settings for a check crawl of `crawl`'s options.

    `scrapy_stats` keeps Scrapy's stats collector and its CoreStats extension, for a
    crawl whose code reads them (a fleet node reports Scrapy's item count); a check
    crawl reads none, and counting costs every request several calls.
    """
    return {
        "BOT_NAME": "rotwatch",
        "USER_AGENT": crawl.user_agent,
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "LOG_LEVEL": log_level,
        "TELNETCONSOLE_ENABLED": False,
        "COOKIES_ENABLED": False,  # a health check must not depend on session state
        # Scrapy's stats: nothing of a check crawl reads them (see scrapy_stats above).
        "STATS_CLASS": SCRAPY_STATS if scrapy_stats else NO_STATS,
        "EXTENSIONS": {
            # Counts responses and items into the stats (two signal handlers per target).
            "scrapy.extensions.corestats.CoreStats": 0 if scrapy_stats else None,
            **UNUSED_EXTENSIONS,
        },
        # The spider yields one request or one item per response; Scrapy would otherwise
        # start 100 asyncio workers to process each callback's output, for nothing.
        "CONCURRENT_ITEMS": 1,
        # Every response reaches the spider, whatever its status: 404 is a finding.
        "HTTPERROR_ALLOW_ALL": True,
        # Redirects are followed by the spider itself, one hop at a time, so every hop
        # (URL and status) is recorded and loops and deep-link-to-home are visible.
        "REDIRECT_ENABLED": False,
        "METAREFRESH_ENABLED": False,
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        # Only http and https are ever fetched: Scrapy's file, data, ftp and s3 handlers
        # would let a redirect read local files or reach other services. The HTTP handler
        # adds a time budget per target and caps response headers.
        "DOWNLOAD_HANDLERS": {
            "http": "crawler.fetch.download_handler.CheckDownloadHandler",
            "https": "crawler.fetch.download_handler.CheckDownloadHandler",
            "file": None, "data": None, "ftp": None, "s3": None,
        },
        # The size cap is enforced by SizeCapMiddleware (bytes_received → StopDownload),
        # which keeps the truncated body instead of failing; Scrapy's own limit is disabled.
        "DOWNLOAD_MAXSIZE": 0,
        "DOWNLOAD_WARNSIZE": 0,
        "DOWNLOAD_FAIL_ON_DATALOSS": False,
        "DOWNLOAD_VERIFY_CERTIFICATES": True,  # a bad certificate is a tls-error finding
        "CONCURRENT_REQUESTS": crawl.concurrency_total,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency_per_host,
        # With no delay, Scrapy 2.19's own downloader starts every request queued for a
        # host at once (CONCURRENT_REQUESTS_PER_DOMAIN not enforced): CheckDownloader
        # counts a host's transfer slots as each download is started.
        "DOWNLOADER": "crawler.fetch.downloader.CheckDownloader",
        "DOWNLOAD_DELAY": crawl.delay_per_host,
        "DOWNLOAD_DELAY_JITTER": 0.5,
        # Failures are findings, recorded as verdicts: not errors to shout on stderr.
        "RETRY_GIVE_UP_LOG_LEVEL": "DEBUG",
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": crawl.retry_times,
        # A retry goes ahead of the targets waiting in the scheduler (Scrapy's default, -1,
        # puts it behind them all, and start() keeps adding more): its target's time
        # budget is already running, and on a busy machine it ran out (a 500 judged
        # "timeout").
        "RETRY_PRIORITY_ADJUST": 1,
        # A retry's backoff or Retry-After wait is held by the scheduler, not slept inside
        # the downloader where it took a place of CONCURRENT_REQUESTS; the host with most
        # work left is served first (crawler/fetch/scheduler.py).
        "SCHEDULER": "crawler.fetch.scheduler.HoldingScheduler",
        "SCHEDULER_PRIORITY_QUEUE": "crawler.fetch.scheduler.LongestWorkFirstQueue",
        # 429 is left to RetryAfterMiddleware, which honours Retry-After; so is a 503
        # that carries Retry-After (the middleware runs first).
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408],
        "DNS_TIMEOUT": min(crawl.timeout, 30),
        # Every connection goes to an address this resolver checked (DNS rebinding);
        # Scrapy 2.19 names it TWISTED_DNS_RESOLVER (DNS_RESOLVER is deprecated).
        "TWISTED_DNS_RESOLVER": "crawler.fetch.resolver.PublicOnlyResolver",
        # Spider middlewares made for following links through a site; for a checker they
        # only cost time, and UrlLength would silently drop a redirect to a long URL.
        "SPIDER_MIDDLEWARES": {
            **UNUSED_SPIDER_MIDDLEWARES,
            "scrapy.spidermiddlewares.referer.RefererMiddleware": None,
            "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
            "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
            "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
        },
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            f"{_MW}.CompleteRobotsTxtMiddleware": 100,
            f"{_MW}.AddressGuardMiddleware": 120,
            "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
            **UNUSED_DOWNLOADER_MIDDLEWARES,
            f"{_MW}.RetryAfterMiddleware": 540,
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            f"{_MW}.BackoffRetryMiddleware": 550,
            # Below the retry middlewares: it sees only the responses that are not retried,
            # the target's hops.
            "crawler.fetch.hops.HopMiddleware": 50,
            # Next to the download itself: each attempt's byte count starts there.
            "crawler.fetch.size_cap.SizeCapMiddleware": 950,
        },
        "ROTWATCH_ALLOW_PRIVATE": crawl.allow_private_addresses,
        "ROTWATCH_RETRY_AFTER_CAP": crawl.retry_after_cap,
        "ROTWATCH_TARGET_BUDGET": crawl.target_budget,
        "ROTWATCH_RETRY_TIMES": crawl.retry_times,
        "ROTWATCH_RETRY_BACKOFF": crawl.retry_backoff,
        "ROTWATCH_MAX_BYTES": int(crawl.max_mb * 1_000_000),
        "ROTWATCH_MAX_REDIRECTS": crawl.max_redirects,
        "ROTWATCH_SOFT404_PROBE": crawl.soft404_probe,
        # Results the recorder may hold before new targets wait (crawler.fetch.backlog):
        # a few batches, so a pass whose results are recorded at once never waits.
        MAX_BACKLOG: max(400, 4 * crawl.batch_size),
    }
