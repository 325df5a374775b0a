"""The reactor thread's own work per response, this tree against another, in one process.

    .venv/bin/python -m benchmarks.reactor_ab --base /tmp/base [--rounds 200]

`--base` is another checkout of rotwatch (e.g. `git archive cff1bae | tar -x -C /tmp/base`).
The same module of each tree is loaded side by side and timed on the same input, the two
alternated round by round; the minimum over the rounds is printed, per response (or per
request), with the ratio this tree ÷ base:

- **header parse**: Twisted's HTTP parser as the download handler swaps it in, fed one
  nginx-like response (status, 9 header lines, a 700-byte page) in one chunk;
- **host queue**: `LongestWorkFirstQueue` push then pop of one request, 20 hosts in turn
  (the downloader keeping up, so a host's queue empties with every pop, as at 10 per host
  where the profile saw it on 3,358 pushes of 3,360);
- **hop middleware**: `HopMiddleware.process_response` as Scrapy 2.19's downloader
  middleware manager calls it (`await ensure_awaitable(...)`);
- **spider callback**: `CheckSpider.parse` of a 200 page to its `Outcome` (page facts,
  the verdict's cheap rules; probes off, as for a page that needs none).

In-process figures with nothing else in them: what each cut saves, not what a crawl
saves (`benchmarks.crawl_trace` measures that, docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BODY = (b"<html><head><title>An article</title></head><body><h1>An article</h1>"
        + b"<p>Some words of the article, and more of them.</p>\n" * 12 + b"</body></html>")
HEAD = (b"HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Wed, 02 Dec 2026 01:40:00 GMT\r\n"
        b"Content-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n"
        b"Last-Modified: Wed, 02 Dec 2026 01:00:00 GMT\r\nConnection: keep-alive\r\n"
        b"ETag: \"6928a1f0-2f3\"\r\nAccept-Ranges: bytes\r\n\r\n" % len(BODY))


def load(tree: Path, module: str, alias: str) -> Any:
    """`module` (dotted) from `tree`'s file, as a module named `alias`; its own imports
    come from this tree (the modules compared import nothing that changed)."""
    path = tree.joinpath(*module.split(".")).with_suffix(".py")
    spec = importlib.util.spec_from_file_location(alias, path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[alias] = loaded  # dataclasses look their module up there
    spec.loader.exec_module(loaded)
    return loaded


def per_call(step: Callable[[], Any], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - started) / n * 1e6


def header_parse(handler: Any) -> Callable[[], Any]:
    from twisted.internet.testing import StringTransport
    from twisted.web._newclient import HTTPClientParser
    from twisted.web._newclient import Request as TxRequest
    from twisted.web.http_headers import Headers

    request = TxRequest(b"GET", b"/", Headers({b"host": [b"127.0.0.2"]}), None)
    data = HEAD + BODY

    def step() -> None:
        parser = HTTPClientParser(request, lambda rest: None)
        parser.makeConnection(StringTransport())
        parser.__class__ = handler._BoundedHTTPClientParser
        parser.dataReceived(data)
    return step


def host_queue(scheduler: Any) -> Callable[[], Any]:
    from scrapy import Request
    from scrapy.utils.httpobj import urlparse_cached
    from scrapy.utils.misc import load_object
    from scrapy.utils.test import get_crawler

    crawler = get_crawler(settings_dict={"CONCURRENT_REQUESTS_PER_DOMAIN": 2})
    crawler.engine = types.SimpleNamespace(downloader=types.SimpleNamespace(
        get_slot_key=lambda request: urlparse_cached(request).netloc, slots={}))
    fifo = load_object("scrapy.squeues.FifoMemoryQueue")
    queue = scheduler.LongestWorkFirstQueue(crawler, fifo, "", None, start_queue_cls=fifo)
    requests = [Request(f"http://127.0.0.{2 + n % 20}:8080/p{n}",
                        meta={"is_start_request": True}) for n in range(2000)]
    at = iter(range(1 << 62))

    def step() -> None:
        queue.push(requests[next(at) % len(requests)])
        queue.pop()
    return step


def hop_middleware(hops: Any) -> Callable[[], Any]:
    from scrapy import Request
    from scrapy.http import HtmlResponse
    from scrapy.utils.defer import ensure_awaitable

    from core.records import DueTarget

    target = DueTarget(1, "k", "http://127.0.0.2/a", "127.0.0.2", "now")
    request = Request(target.url, meta={hops.TARGET_FETCH: hops.TargetFetch(target)})
    response = HtmlResponse(target.url, body=BODY, request=request)
    middleware = hops.HopMiddleware()

    async def call() -> Any:
        request.meta[hops.TARGET_FETCH] = hops.TargetFetch(target)
        return await ensure_awaitable(
            middleware.process_response(request=request, response=response), _warn="hop")
    return lambda: _run(call())


def spider_callback(spider_module: Any) -> Callable[[], Any]:
    from scrapy import Request
    from scrapy.http import HtmlResponse

    from core.records import DueTarget, Hop
    from crawler.fetch.hops import TARGET_FETCH, TargetFetch

    target = DueTarget(1, "k", "http://127.0.0.2/news/an-article", "127.0.0.2", "now")
    spider = spider_module.CheckSpider(targets=[], probe_token="tok")
    spider.probing = False
    hop = Hop(target.url, 200, None)
    state = TargetFetch(target, (hop,), 0.0, 0.0)
    headers = {"Content-Type": "text/html; charset=utf-8", "Server": "nginx/1.24.0",
               "Last-Modified": "Wed, 02 Dec 2026 01:00:00 GMT", "ETag": '"6928a1f0-2f3"'}

    async def call() -> Any:
        request = Request(target.url, meta={TARGET_FETCH: state})
        response = HtmlResponse(target.url, body=BODY, request=request, headers=headers)
        return [item async for item in spider.parse(response)]
    return lambda: _run(call())


def _run(step: Any) -> Any:
    """A coroutine that never waits, run to its end (no event loop's cost in the figure)."""
    try:
        step.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("it waited")


CASES: dict[str, tuple[str, Callable[[Any], Callable[[], Any]], int]] = {
    "header parse (per response)": ("crawler.fetch.download_handler", header_parse, 200),
    "host queue push+pop (per request)": ("crawler.fetch.scheduler", host_queue, 500),
    "hop middleware (per response)": ("crawler.fetch.hops", hop_middleware, 1000),
    "spider callback (per response)": ("crawler.fetch.spider", spider_callback, 100),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the other tree")
    # Many short rounds, the two trees alternated: on a shared machine a burst of other
    # work then spoils a few rounds of either side, and the minimum skips them.
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    asyncio.set_event_loop(asyncio.new_event_loop())  # Scrapy's helpers look for one
    for name, (module, build, n) in CASES.items():
        steps = {side: build(load(tree, module, f"{side}_{module}"))
                 for side, tree in (("base", args.base.resolve()), ("this", ROOT))}
        times: dict[str, list[float]] = {side: [] for side in steps}
        for _ in range(args.rounds):
            for side, step in steps.items():
                times[side].append(per_call(step, n))
        base, this = min(times["base"]), min(times["this"])
        print(f"{name:38s} base {base:7.2f} us  this {this:7.2f} us  "
              f"ratio {this / base:.3f}")


if __name__ == "__main__":
    main()
