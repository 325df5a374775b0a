"""New targets wait while the recorder holds too many results (crawler.fetch.backlog)."""

from __future__ import annotations

import asyncio

from crawler.fetch.backlog import wait_for_room
from crawler.fetch.settings import scrapy_settings
from rotwatch.config import CrawlConfig


def test_no_backlog_to_watch_is_room() -> None:
    assert asyncio.run(wait_for_room(None, 10)) is True
    assert asyncio.run(wait_for_room(lambda: 99, 0)) is True


def test_a_full_backlog_waits_until_the_recorder_catches_up() -> None:
    held = {"n": 500}
    events: list[str] = []

    async def recorder() -> None:
        for _ in range(3):
            await asyncio.sleep(0.01)
            events.append(f"still {held['n']}")
        held["n"] = 399
        events.append("recorded")

    async def main() -> bool:
        task = asyncio.create_task(recorder())
        room = await wait_for_room(lambda: held["n"], 400, poll_s=0.005, max_wait_s=30)
        events.append("started")
        await task
        return room

    assert asyncio.run(main()) is True
    assert events == ["still 500", "still 500", "still 500", "recorded", "started"]


def test_a_recorder_that_makes_no_progress_slows_the_crawl_but_never_stalls_it() -> None:
    calls = {"n": 0}

    def stuck() -> int:
        calls["n"] += 1
        return 1_000

    assert asyncio.run(wait_for_room(stuck, 400, poll_s=0.001, max_wait_s=0.01)) is False
    assert 2 <= calls["n"] <= 12  # polled, and stopped by itself


def test_the_bound_leaves_room_for_several_batches() -> None:
    # the pipeline hands results over in batches: a bound under one batch would hold
    # every new target until the time limit
    for batch in (1, 100, 200, 5_000):
        settings = scrapy_settings(CrawlConfig(batch_size=batch))
        assert settings["ROTWATCH_MAX_BACKLOG"] >= 4 * batch
        assert settings["ROTWATCH_MAX_BACKLOG"] >= 400
