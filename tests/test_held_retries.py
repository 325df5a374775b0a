"""A retry's wait is held by the scheduler, not inside the downloader, and the host with most
work left is served first (crawler/fetch/scheduler.py).

Each crawl is a real `rotwatch check` child process against the loopback mock server; what
is asserted is the order of the requests in the server's log, never a duration.
"""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import Request
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import load_object
from scrapy.utils.test import get_crawler

from crawler.fetch.scheduler import (
    MAX_IDLE,
    LongestWorkFirstQueue,
    SlotLoad,
    choose_slot,
    longest_work_first,
)
from tests.conftest import MockServer
from tests.helpers import latest_checks, rotwatch, write_config

# Nothing but the order the tests look at: no soft-404 probes, one crawl process.
QUIET = {"soft404_probe": False, "processes": 1}


def _check(tmp_path: Path, urls: dict[str, str], **crawl: object) -> dict[str, dict[str, Any]]:
    seed = tmp_path / "seed.md"
    seed.write_text("\n".join(f"- [{name}]({url})" for name, url in urls.items()) + "\n",
                    encoding="utf-8")
    data, config = tmp_path / "data", write_config(tmp_path / "c.toml", **QUIET, **crawl)
    assert rotwatch(data, "ingest", str(seed), config=config).returncode == 0
    done = rotwatch(data, "check", "--allow-private", config=config)
    assert done.returncode in (0, 2), done.stderr
    assert "Traceback" not in done.stderr
    return latest_checks(data)


def _requests(mockserver: MockServer, host: int, key: str) -> list[dict[str, Any]]:
    """This test's requests to `host`, in the order the server received them."""
    return sorted((e for e in mockserver.log(host) if key in e["path"]),
                  key=lambda e: e["seq"])


def test_a_waiting_retry_leaves_its_place_to_other_targets(mockserver: MockServer,
                                                            tmp_path: Path) -> None:
    # One request at a time in the whole crawl. Were a retry's 1 s backoff, or the 1 s a
    # 429 asks for, slept inside the downloader, it would hold that one place and nothing
    # could be sent meanwhile.
    key = f"held-{tmp_path.name}"
    urls = {"flaky": mockserver.url(f"/flaky?key={key}&times=1", host=2),
            "busy": mockserver.url(f"/retry-after/429?key={key}&times=1&after=1", host=2)}
    urls |= {f"page{i}": mockserver.url(f"/slow?delay=0.05&q={key}-{i}", host=2)
             for i in range(8)}
    checks = _check(tmp_path, urls, concurrency_total=1, concurrency_per_host=2,
                    retry_times=1, retry_backoff=1)
    paths = [e["path"] for e in _requests(mockserver, 2, key)]
    for prefix in ("/flaky", "/retry-after"):
        attempts = [i for i, path in enumerate(paths) if path.startswith(prefix)]
        assert len(attempts) == 2, paths  # the 500 or 429, then its retry
        between = paths[attempts[0] + 1:attempts[1]]
        assert any(path.startswith("/slow") for path in between), (prefix, paths)
    for name in ("flaky", "busy"):
        assert checks[urls[name]]["verdict"] == "ok"
        assert checks[urls[name]]["retries"] == 1
    assert all(checks[url]["verdict"] == "ok" for url in urls.values())


def test_the_crawl_waits_for_a_held_retry_and_the_budget_still_ends_it(
        mockserver: MockServer, tmp_path: Path) -> None:
    # The only target: while its first retry is held nothing else is pending, so a spider
    # that forgot held retries would close and the target would have no check. Its second
    # retry would wait 2 s, and 2 s plus a 1 s attempt no longer fit the 4 s budget
    # (1 s of it already spent waiting): given up at once, the 500 is the finding.
    key = f"budget-{tmp_path.name}"
    urls = {"failing": mockserver.url(f"/flaky?key={key}&times=5", host=2)}
    checks = _check(tmp_path, urls, retry_times=2, retry_backoff=1, target_budget=4)
    assert len(_requests(mockserver, 2, key)) == 2  # the first attempt and one retry
    check = checks[urls["failing"]]
    assert check["status"] == 500, check
    assert check["retries"] == 1
    assert check["verdict"] == "server-error"


def test_the_host_with_most_work_left_is_served_first(mockserver: MockServer,
                                                      tmp_path: Path) -> None:
    # One request at a time: taking turns (Scrapy's choice) would finish the 4-target host
    # with 8 of the other's 12 still to go, so the crawl's end waits for the big host alone.
    key = f"longest-{tmp_path.name}"
    urls = {f"big{i}": mockserver.url(f"/slow?delay=0.02&q={key}-{i}", host=2)
            for i in range(12)}
    urls |= {f"small{i}": mockserver.url(f"/slow?delay=0.02&q={key}-{i}", host=3)
             for i in range(4)}
    checks = _check(tmp_path, urls, concurrency_total=1, concurrency_per_host=1)
    assert all(check["verdict"] == "ok" for check in checks.values())
    big = [e["time"] for e in _requests(mockserver, 2, key)]
    small = [e["time"] for e in _requests(mockserver, 3, key)]
    assert (len(big), len(small)) == (12, 4)
    # Requests are one at a time, so the server's clock orders them across the two hosts.
    assert sum(t > max(small) for t in big) <= 1


@pytest.mark.parametrize(("loads", "last", "chosen"), [
    # The fewest requests in the downloader first, as in Scrapy, however much work a
    # busier host has: every host keeps its transfer places fed.
    ([SlotLoad("a", 2, 50), SlotLoad("b", 1, 3)], None, "b"),
    # Equally loaded: the host with most work queued or held.
    ([SlotLoad("a", 0, 3), SlotLoad("b", 1, 9), SlotLoad("c", 0, 9)], None, "c"),
    ([SlotLoad("a", 2, 3), SlotLoad("b", 2, 7), SlotLoad("c", 2, 5)], "b", "b"),
    # Equal hosts take turns, in name order after the last one served, as in Scrapy.
    ([SlotLoad("a", 0, 5), SlotLoad("b", 0, 5), SlotLoad("c", 0, 5)], "a", "b"),
    ([SlotLoad("a", 0, 5), SlotLoad("b", 0, 5), SlotLoad("c", 0, 5)], "c", "a"),
])
def test_the_next_host_is_the_one_with_most_work_left(loads: list[SlotLoad], last: str | None,
                                                      chosen: str) -> None:
    assert longest_work_first(loads, last) == chosen


def test_the_one_pass_choice_is_longest_work_first() -> None:
    # The queue's pop chooses with `choose_slot` (counts kept, the downloader's slots read
    # directly); it must pick what `longest_work_first` picks from the same loads.
    rng = random.Random(4)
    for _ in range(3000):
        names = rng.sample([f"127.0.0.{i}" for i in range(2, 14)] + ["rotwatch-probe:a"],
                           rng.randrange(1, 8))
        queued = {name: rng.randrange(1, 4) for name in names}
        held = {name: rng.randrange(0, 3) for name in rng.sample(names, len(names) // 2)}
        slots = {name: SimpleNamespace(active=set(range(rng.randrange(0, 3))))
                 for name in rng.sample(names, rng.randrange(0, len(names) + 1))}
        last = rng.choice([None, *names, "127.0.0.5", "zzz"])
        loads = [SlotLoad(name, len(slots[name].active) if name in slots else 0,
                          queued[name] + held.get(name, 0)) for name in names]
        assert choose_slot(queued, held, slots, last) == longest_work_first(loads, last)
    assert choose_slot({}, {}, {}, "a") is None


def test_an_emptied_host_queue_is_reused_and_keeps_its_order() -> None:
    """When the downloader keeps up, a host's queue empties with every pop: the next push
    reuses it (no new queue per request), priorities still first, at most MAX_IDLE kept."""
    crawler = get_crawler(settings_dict={"CONCURRENT_REQUESTS_PER_DOMAIN": 2})
    crawler.engine = SimpleNamespace(downloader=SimpleNamespace(  # type: ignore[assignment]
        get_slot_key=lambda request: urlparse_cached(request).netloc, slots={}))
    fifo = load_object("scrapy.squeues.FifoMemoryQueue")
    queue = LongestWorkFirstQueue(crawler, fifo, "", None, start_queue_cls=fifo)
    first = Request("http://127.0.0.2/a", meta={"is_start_request": True})
    queue.push(first)
    emptied = queue.pqueues["127.0.0.2"]
    assert queue.pop() is first and len(queue) == 0 and "127.0.0.2" not in queue.pqueues
    later = [Request("http://127.0.0.2/b", meta={"is_start_request": True}),
             Request("http://127.0.0.2/hop", priority=1),
             Request("http://127.0.0.2/c", meta={"is_start_request": True})]
    for request in later:
        queue.push(request)
    assert queue.pqueues["127.0.0.2"] is emptied and len(queue) == 3
    assert [queue.pop() for _ in later] == [later[1], later[0], later[2]]
    for n in range(MAX_IDLE + 50):
        queue.push(Request(f"http://127.0.{n // 250}.{n % 250}/x"))
        assert queue.pop() is not None
    assert len(queue) == 0 and queue.pop() is None
    assert len(queue._idle) == MAX_IDLE and not queue.pqueues
    queue.close()
    assert not queue._idle
