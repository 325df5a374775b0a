"""The check spider in-process: fake responses in, the requests and items it yields out.

No crawl, no server, no subprocess: each test builds the Scrapy responses the downloader
would hand on (after the HopMiddleware recorded the hop, as it does in a crawl) and drives
`parse` / `failed` directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any, TypeVar, cast

import pytest
from scrapy import Request
from scrapy.exceptions import StopDownload
from scrapy.http import HtmlResponse, Response
from twisted.internet.error import DNSLookupError
from twisted.python.failure import Failure

from core.exchange import ArchivedRecord
from core.records import DueTarget, ErrorKind, Hop, Verdict
from crawler.fetch.archiving import note_archived, snapshot_of
from crawler.fetch.hops import TARGET_FETCH, HopMiddleware, TargetFetch, fetch_of
from crawler.fetch.items import Outcome
from crawler.fetch.size_cap import SizeCapMiddleware
from crawler.fetch.spider import CheckSpider

T = TypeVar("T")
URL = "http://example.org/articles/one"
TARGET = DueTarget(id=7, key="example.org/articles/one", url=URL, host="example.org",
                   next_check_at="2024-01-01T00:00:00+00:00")
PAGE = (b"<html><head><title>One article</title></head><body><h1>One article</h1>"
        + b"<p>Words of the article itself. " * 40 + b"</p></body></html>")


def spider(probing: bool = False) -> CheckSpider:
    made = CheckSpider(targets=[], probe_token="tok")
    made.probing = probing
    made.max_bytes = 1_000_000
    return made


def first_request(target: DueTarget = TARGET) -> Request:
    return Request(target.url, meta={TARGET_FETCH: TargetFetch(target)})


def respond(request: Request, status: int = 200, body: bytes = PAGE,
            headers: dict[str, str] | None = None, flags: list[str] | None = None) -> Response:
    """The response as the spider gets it: the HopMiddleware has recorded it as a hop."""
    fetch = fetch_of(request)
    if fetch is not None and fetch.sent is None:
        request.meta[TARGET_FETCH] = TargetFetch(fetch.target, fetch.hops, fetch.spent,
                                                 sent=0.0, warc=fetch.warc)
    response = HtmlResponse(request.url, status=status, body=body, request=request,
                            headers={"Content-Type": "text/html; charset=utf-8",
                                     **(headers or {})}, flags=flags)
    return finished(HopMiddleware().process_response(request, response))


def finished(step: Coroutine[Any, Any, T]) -> T:
    """The value of a coroutine that never waits (a middleware's), run to its end here."""
    try:
        step.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    raise AssertionError("the coroutine waited")


def drain(outputs: AsyncIterator[T]) -> list[T]:
    async def collect() -> list[T]:
        return [item async for item in outputs]
    return asyncio.run(collect())


def only_outcome(outputs: list[Any]) -> Outcome:
    assert len(outputs) == 1 and isinstance(outputs[0], Outcome), outputs
    return outputs[0]


def test_a_page_yields_one_outcome_with_its_verdict() -> None:
    crawl = spider()
    outcome = only_outcome(drain(crawl.parse(respond(first_request()))))
    assert outcome.judgement.verdict is Verdict.OK
    assert (outcome.target_id, outcome.key, outcome.host) == (7, TARGET.key, "example.org")
    obs = outcome.observation
    assert obs.status == 200 and obs.hops == (Hop(URL, 200, None),)
    assert obs.title == "One article" and not obs.truncated and obs.length == len(PAGE)
    assert outcome.body is not None and b"Words of the article" in outcome.body
    assert outcome.encoding == "utf-8" and outcome.warc is None


def test_a_redirect_yields_the_next_hop_then_the_outcome_has_every_hop() -> None:
    crawl = spider()
    outputs = drain(crawl.parse(respond(first_request(), 301, b"",
                                        {"Location": "/articles/moved"})))
    assert len(outputs) == 1 and isinstance(outputs[0], Request)
    hop = outputs[0]
    assert hop.url == "http://example.org/articles/moved"
    assert hop.dont_filter and hop.callback == crawl.parse and hop.errback == crawl.failed
    assert hop.meta["dont_redirect"] and hop.meta["handle_httpstatus_all"]
    state = fetch_of(hop)
    assert state is not None and state.target == TARGET
    assert state.hops == (Hop(URL, 301, "/articles/moved"),) and state.sent is None
    outcome = only_outcome(drain(crawl.parse(respond(hop))))
    assert outcome.judgement.verdict is Verdict.REDIRECTED
    assert outcome.judgement.permanent_redirect
    assert [h.status for h in outcome.observation.hops] == [301, 200]
    assert outcome.observation.final_url == "http://example.org/articles/moved"


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://example.org/x",
                                      "data:text/html,hello", "mailto:a@example.org"])
def test_a_non_http_location_is_not_checkable_and_not_followed(location: str) -> None:
    outputs = drain(spider().parse(respond(first_request(), 302, b"", {"Location": location})))
    outcome = only_outcome(outputs)
    assert outcome.judgement.verdict is Verdict.NOT_CHECKABLE
    assert outcome.observation.error is ErrorKind.UNSUPPORTED
    assert "only http and https" in (outcome.observation.error_message or "")


def test_a_redirect_back_to_a_visited_url_is_a_loop() -> None:
    crawl = spider()
    [hop] = drain(crawl.parse(respond(first_request(), 302, b"", {"Location": "/b"})))
    assert isinstance(hop, Request)
    outcome = only_outcome(drain(crawl.parse(respond(hop, 302, b"", {"Location": URL}))))
    assert outcome.judgement.verdict is Verdict.REDIRECT_LOOP
    assert outcome.observation.error is ErrorKind.REDIRECT_LOOP
    assert len(outcome.observation.hops) == 2


def test_too_many_redirects_stop_at_the_limit() -> None:
    crawl = spider()
    crawl.max_redirects = 2
    request: Any = first_request()
    for n in range(3):
        outputs = drain(crawl.parse(respond(request, 302, b"", {"Location": f"/r{n}"})))
        request = outputs[0]
    outcome = only_outcome([request])
    assert outcome.observation.error is ErrorKind.TOO_MANY_REDIRECTS
    assert len(outcome.observation.hops) == 3


def test_a_download_failure_yields_its_error_with_the_hops_so_far() -> None:
    crawl = spider()
    request = first_request()
    request.meta[TARGET_FETCH] = TargetFetch(TARGET, (Hop(URL, 301, "/x"),), spent=1.5)
    failure = Failure(DNSLookupError("no such host"))
    failure.request = request  # type: ignore[attr-defined]
    outcome = only_outcome(drain(crawl.failed(failure)))
    assert outcome.judgement.verdict is Verdict.DNS_FAILURE
    assert outcome.observation.hops == (Hop(URL, 301, "/x"),)
    assert outcome.observation.elapsed == 1.5  # the clock of this attempt never started


def test_a_failure_of_no_target_yields_nothing() -> None:
    failure = Failure(DNSLookupError("robots.txt host"))
    failure.request = Request("http://example.org/robots.txt")  # type: ignore[attr-defined]
    assert drain(spider().failed(failure)) == []


def test_a_page_cut_at_the_cap_is_truncated() -> None:
    cap = SizeCapMiddleware(max_bytes=100)
    request = first_request()
    cap.count(b"x" * 60, request, None)
    with pytest.raises(StopDownload):
        cap.count(b"x" * 60, request, None)
    retry = request.copy()  # a retry counts afresh
    cap.count(b"x" * 60, retry, None)
    response = respond(request, body=PAGE[:120], flags=["download_stopped"])
    outcome = only_outcome(drain(spider().parse(response)))
    assert outcome.observation.truncated


def test_an_archived_response_is_linked_to_its_outcome_and_probes_are_not_archived() -> None:
    request = first_request()
    response = HtmlResponse(URL, status=200, body=PAGE, request=request,
                            headers={"Content-Type": "text/html"})
    exchange = snapshot_of(response, request, max_bytes=50)
    assert exchange is not None
    assert exchange.url == URL and exchange.status == 200 and exchange.reason == "OK"
    assert exchange.body == PAGE[:50] and exchange.truncated
    probe = Request("http://example.org/articles/tok")
    assert snapshot_of(HtmlResponse(probe.url, body=b"", request=probe), probe, 50) is None
    record: Future[ArchivedRecord | None] = Future()
    note_archived(request, record)
    outcome = only_outcome(drain(spider().parse(respond(request))))
    assert outcome.warc is record


def test_a_soft_404_is_found_by_the_probe() -> None:
    crawl = spider(probing=True)
    probed: list[str] = []

    async def download_async(request: Request) -> Response:
        probed.append(request.url)
        assert fetch_of(request) is None  # a probe is no target: never archived
        return HtmlResponse(request.url, status=200, body=PAGE, request=request,
                            headers={"Content-Type": "text/html; charset=utf-8"})

    crawl.crawler = SimpleNamespace(engine=SimpleNamespace(download_async=download_async))  # type: ignore[assignment]
    outcome = only_outcome(drain(crawl.parse(respond(first_request()))))
    assert len(probed) == 1 and "tok" in probed[0]
    assert outcome.judgement.verdict is Verdict.SOFT_404


def test_start_holds_back_while_enough_targets_are_open() -> None:
    targets = [DueTarget(n, f"k{n}", f"http://example.org/{n}", "example.org", "")
               for n in range(5)]
    crawl = CheckSpider(targets=targets, probe_token="tok")
    crawl.probing = False
    crawl.max_open = 2

    async def run() -> list[str]:
        start = crawl.start()
        first = await anext(start)
        await anext(start)
        with pytest.raises(TimeoutError):  # two open: the third waits
            await asyncio.wait_for(asyncio.shield(pending := asyncio.ensure_future(
                anext(start))), 0.05)
        [outcome] = [o async for o in crawl.parse(respond(first))]
        assert isinstance(outcome, Outcome) and outcome.target_id == 0
        third = await asyncio.wait_for(pending, 1)  # one finished: room for the next
        return [third.url]

    assert asyncio.run(run()) == ["http://example.org/2"]
    assert crawl._open == {1, 2}
