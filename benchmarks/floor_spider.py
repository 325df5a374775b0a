"""The floor: the least CPU any Scrapy-based checker spends per link on this machine.

    python -m benchmarks.floor_spider URLS_FILE --per-host 2 --total 40 [--retries 2]
        [--trimmed] [--save-validators FILE | --revalidate FILE]

A minimal spider: one GET per URL of the file (one URL a line), Scrapy's own redirect and
retry middlewares, `CONCURRENT_ITEMS = 1`, and a `parse` that does nothing. It gets the
same per-host and total concurrency as the checker it is compared with, the same tiny
download delay (rotwatch never uses exactly 0, see crawler/fetch/settings.py), the same
retries, and Scrapy's asyncio reactor. benchmarks/check.py runs it as a child process on
the same server in the same run and reports rotwatch's CPU per link as a multiple of it.

`--trimmed` turns off the Scrapy components rotwatch's check crawl does without
(crawler/fetch/settings.py: the UNUSED_* lists and the no-op stats collector), to tell how
much of a gain over the default floor is Scrapy's defaults rather than rotwatch's own work.
Its requests then carry no User-Agent or default headers (rotwatch's handler sets them).

The floor of a recheck: ``--save-validators FILE`` keeps each URL's ``ETag`` and
``Last-Modified`` (of the final response, keyed by the URL asked for) in a JSON file;
a second run with ``--revalidate FILE`` sends them as ``If-None-Match`` /
``If-Modified-Since`` (Scrapy's redirect middleware carries them to a redirect's target),
so an unchanged page answers 304 with no body. It prints how many answers were 304.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy.crawler import AsyncCrawlerProcess
from scrapy.http import Response


class FloorSpider(scrapy.Spider):
    name = "floor"

    def __init__(self, *, urls: list[str], keep: bool = False,
                 validators: dict[str, dict[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = urls
        self.answered = 0
        self.not_modified = 0
        self.keep = keep  # collect validators for --save-validators
        self.validators = validators or {}  # URL → request headers, for --revalidate
        self.kept: dict[str, dict[str, str]] = {}

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.urls:
            # As Scrapy's StartSpiderMiddleware marks it (not there with --trimmed).
            yield scrapy.Request(url, dont_filter=True, meta={"is_start_request": True},
                                 headers=self.validators.get(url))

    def parse(self, response: Response) -> None:
        self.answered += 1
        if response.status == 304:
            self.not_modified += 1
        if self.keep:
            asked = response.meta.get("redirect_urls", [response.url])[0]
            got = {name: value.decode("latin-1") for header, name in VALIDATORS
                   if (value := response.headers.get(header))}
            if got:
                self.kept[asked] = got


# Response header → the request header that sends it back.
VALIDATORS = (("ETag", "If-None-Match"), ("Last-Modified", "If-Modified-Since"))


def trimmed() -> dict[str, Any]:
    """The component settings of rotwatch's check crawl that apply to any spider."""
    from crawler.fetch import settings as check

    return {"STATS_CLASS": check.NO_STATS,
            "EXTENSIONS": {"scrapy.extensions.corestats.CoreStats": None,
                           **check.UNUSED_EXTENSIONS},
            "SPIDER_MIDDLEWARES": check.UNUSED_SPIDER_MIDDLEWARES,
            "DOWNLOADER_MIDDLEWARES": check.UNUSED_DOWNLOADER_MIDDLEWARES}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("urls", type=Path)
    p.add_argument("--per-host", type=int, default=2)
    p.add_argument("--total", type=int, default=40)
    p.add_argument("--retries", type=int, default=2)
    p.add_argument("--delay", type=float, default=0.001)
    p.add_argument("--trimmed", action="store_true",
                   help="without the Scrapy components rotwatch's check crawl turns off")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--save-validators", type=Path, metavar="FILE",
                       help="write each URL's ETag / Last-Modified to FILE (JSON)")
    which.add_argument("--revalidate", type=Path, metavar="FILE",
                       help="send the validators FILE holds (If-None-Match, "
                            "If-Modified-Since)")
    args = p.parse_args(argv)
    validators = (json.loads(args.revalidate.read_text(encoding="utf-8"))
                  if args.revalidate else None)
    urls = [u for u in args.urls.read_text(encoding="utf-8").split() if u]
    process = AsyncCrawlerProcess({
        **(trimmed() if args.trimmed else {}),
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "LOG_LEVEL": "ERROR",
        "TELNETCONSOLE_ENABLED": False,
        "CONCURRENT_ITEMS": 1,
        "CONCURRENT_REQUESTS": args.total,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.per_host,
        "DOWNLOAD_DELAY": args.delay,
        "RETRY_TIMES": args.retries,
        "HTTPERROR_ALLOW_ALL": True,  # every status reaches parse, as in a checker
        "ROBOTSTXT_OBEY": False,
    })
    crawler = process.create_crawler(FloorSpider)
    process.crawl(crawler, urls=urls, keep=args.save_validators is not None,
                  validators=validators)
    process.start()
    spider = crawler.spider
    if not isinstance(spider, FloorSpider):
        print(f"answered 0 of {len(urls)}; not modified 0; sent validators 0")
        return 1
    if args.save_validators is not None:
        args.save_validators.write_text(json.dumps(spider.kept), encoding="utf-8")
    print(f"answered {spider.answered} of {len(urls)}; not modified {spider.not_modified}; "
          f"sent validators {len(validators or {})}; kept validators {len(spider.kept)}")
    return 0 if spider.answered == len(urls) else 1


if __name__ == "__main__":
    sys.exit(main())
