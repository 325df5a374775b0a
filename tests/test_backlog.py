"""Bodies held by a crawl are bounded (rotwatch/backlog.py): the pipeline waits for room.

The crawl runs twice over article pages on the mock server; between the runs every page
is rewritten, so the second run extracts two texts per page (the case that used to queue
bodies without bound). With `held_mb` far below one page, every item waits for room: the
crawl must still finish, record every check and see every page drift.
"""

from __future__ import annotations

import re
import threading

import pytest

from rotwatch.backlog import Backlog
from tests.conftest import MockServer
from tests.helpers import query, rotwatch, write_config

PAGES = 12


WORDING = {
    "herons": "the survey team counted herons at station {n} before noon and wrote it down",
    "otters": "volunteers in canoe {n} photographed otters sliding off the mud at dusk",
}


def _article(i: int, topic: str) -> str:
    body = "".join(f"<p>Paragraph {n} of report {i}: {WORDING[topic].format(n=n)}.</p>"
                   for n in range(12))
    return (f"<html><head><title>Report {i}</title></head><body><article>"
            f"<h1>Report {i} on {topic}</h1>{body}</article></body></html>")


def test_room_is_given_at_once_below_the_limit_and_later_above_it() -> None:
    backlog = Backlog(limit=100)
    calls: list[str] = []
    backlog.add(60)
    backlog.when_room(lambda: calls.append("now"))
    assert calls == ["now"] and backlog.waits == 0
    backlog.add(60)  # 120 held: full
    assert backlog.full
    backlog.when_room(lambda: calls.append("first"))
    backlog.when_room(lambda: calls.append("second"))
    backlog.release(10)  # 110: still full, nobody called
    assert calls == ["now"]
    backlog.release(20)  # 90: room, both called once
    assert calls == ["now", "first", "second"]
    backlog.release(90)
    assert calls == ["now", "first", "second"] and backlog.held == 0
    assert (backlog.peak, backlog.waits) == (120, 2)


def test_releases_from_other_threads_wake_every_waiter() -> None:
    backlog = Backlog(limit=1_000)
    backlog.add(50_000)
    woken = threading.Event()
    backlog.when_room(woken.set)
    workers = [threading.Thread(target=lambda: [backlog.release(1) for _ in range(10_000)])
               for _ in range(5)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert backlog.held == 0 and woken.is_set()


def test_a_limit_below_one_byte_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 byte"):
        Backlog(limit=0)


def test_a_crawl_with_almost_no_room_still_records_everything(
        mockserver: MockServer, tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("backlog")
    urls = [mockserver.set_page(f"{tmp.name}-{i}", _article(i, "herons"))
            for i in range(PAGES)]
    seed = tmp / "seed.md"
    seed.write_text("".join(f"- [page {i}]({u})\n" for i, u in enumerate(urls)),
                    encoding="utf-8")
    data = tmp / "data"
    # 0.001 MiB: about 1 KB, less than any one page here.
    config = write_config(tmp / "rotwatch.toml", allow_private_addresses=True,
                          soft404_probe=False, held_mb=0.001)
    assert rotwatch(data, "ingest", str(seed), config=config).returncode == 0
    first = rotwatch(data, "check", "--all", "-v", config=config)
    assert first.returncode == 0, first.stderr
    for i in range(PAGES):
        mockserver.set_page(f"{tmp.name}-{i}", _article(i, "otters"))
    second = rotwatch(data, "check", "--all", "-v", config=config)
    assert second.returncode == 0, second.stderr

    waits = [int(n) for n in re.findall(r"waits for room: (\d+)", second.stderr)]
    assert waits and sum(waits) > 0, second.stderr[-2000:]
    rows = query(data, "SELECT t.url, c.verdict, c.drifted, c.similarity FROM checks c "
                       "JOIN targets t ON t.id = c.target_id ORDER BY c.id")
    assert len(rows) == 2 * PAGES
    assert all(verdict == "ok" for _, verdict, _, _ in rows[:PAGES])
    # every rewritten page was compared with its first capture, both texts extracted
    assert sorted(url for url, _, drifted, _ in rows[PAGES:] if drifted) == sorted(urls), rows
