"""The benchmark's lower bounds: the zero-CPU bound from a request log, retries, 304 counts.

benchmarks/bounds.py on hand-made logs, and the floor's revalidation pass against the
real mock server (``--validators on``): its 304s counted by the spider and by the
server's log, and a pass without 304s reported as a failure of the benchmark run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.bounds import (
    LoggedRequest,
    not_modified,
    parse_nginx_line,
    per_host_counts,
    retries,
    zero_cpu_bound,
)
from benchmarks.check_bounds import FIRST, FLOOR_FIRST, FLOOR_REVALIDATION, notes
from benchmarks.measure import Result, Setup
from benchmarks.peers import floor_counts, run_floor
from benchmarks.servers import MockTarget
from tests.conftest import MockServer

A, B = "127.0.0.2", "127.0.0.3"


def req(host: str, path: str, start: float, status: int = 200, took: float = 0.05
        ) -> LoggedRequest:
    return LoggedRequest(host, path, status, start, start + took)


def hand_log() -> list[LoggedRequest]:
    """Host A: robots, 4 links and one link tried 3 times (7 delayed requests); B: 4."""
    log = [req(A, "/robots.txt", 100.0, took=0.0), req(B, "/robots.txt", 100.2, took=0.0)]
    log += [req(A, f"/bench/200/{i}", 101.0 + i) for i in range(4)]
    log += [req(A, "/bench/500/9", 101.0, 500), req(A, "/bench/500/9", 102.05, 500),
            req(A, "/bench/500/9", 104.1, 500)]
    log += [req(B, f"/bench/404/{i}", 101.0, 404) for i in range(4)]
    return log


def test_zero_cpu_bound_from_a_hand_made_log() -> None:
    log = hand_log()
    assert per_host_counts(log) == {A: 7, B: 4}  # robots.txt is not a delayed request
    b = zero_cpu_bound(log, per_host=2, delay_s=0.05, backoffs_s=(1.0, 2.0), started_at=99.5)
    assert (b.busiest_host, b.busiest_requests) == (A, 7)
    assert b.slots_s == pytest.approx(4 * 0.05)  # ceil(7 / 2) rounds of 50 ms
    assert b.chain_s == pytest.approx(3 * 0.05 + 3.0)
    assert b.first_response_s == pytest.approx(0.5)  # robots.txt of A, at once
    assert b.any_order_s == pytest.approx(0.5 + 3.15)  # the chain outlasts the slots
    assert b.in_order_s == pytest.approx(0.5 + 0.2 + 3.0)  # waits after A's other work
    many = log + [req(A, f"/bench/200/x{i}", 101.0) for i in range(200)]
    assert zero_cpu_bound(many, per_host=2, delay_s=0.05, backoffs_s=(1.0, 2.0),
                          started_at=99.5).any_order_s == pytest.approx(0.5 + 104 * 0.05)


def test_no_retries_no_chain_and_an_empty_log_is_refused() -> None:
    log = [req(A, f"/bench/200/{i}", 10.0) for i in range(3)]
    b = zero_cpu_bound(log, per_host=1, delay_s=0.1, backoffs_s=(1.0, 2.0), started_at=9.0)
    assert b.chain_s == 0.0
    assert b.any_order_s == pytest.approx(b.in_order_s) == pytest.approx(1.05 + 0.3)
    with pytest.raises(ValueError, match="no /bench requests"):
        zero_cpu_bound(log[:0], per_host=1, delay_s=0.1, backoffs_s=(), started_at=0.0)


def test_the_bound_rows_beside_lychee() -> None:
    first = Result(FIRST, links=9, wall_s=8.0, started_at=99.5)
    lychee = Result("lychee", links=9, wall_s=7.3, started_at=99.9)
    lychee_log = [req(A, f"/bench/200/{i}", 100.0) for i in range(5)]
    block = notes(Setup(2, 4, 2), [first, lychee], {FIRST: hand_log(), "lychee": lychee_log},
                  0.05)
    any_order, in_order = block.rows
    assert any_order.split()[-3:] == ["3.6", "2", "2.00"]  # wall, links/s, ÷ lychee
    assert in_order.split()[-3:] == ["3.7", "2", "1.97"]
    assert any("busiest host 127.0.0.2, 7 delayed requests" in line for line in block.lines)
    assert any("lychee's own zero-CPU bound" in line and "0.3 s against its 7.3 s" in line
               for line in block.lines)
    assert block.failures == []


def test_retries_and_not_modified_from_a_log() -> None:
    log = [*hand_log(), req(B, "/bench/200/9", 105.0, 304)]
    r = retries(log)
    assert r.attempts == {1: 9, 3: 1}
    assert r.waits_s == {1: pytest.approx(1.0), 2: pytest.approx(2.0)}
    assert r.statuses == {200: 4, 304: 1, 404: 4, 500: 3}
    assert not_modified(log) == 1
    # The same path on two hosts is two links, not one retried.
    assert retries([req(A, "/bench/404/p", 1.0), req(B, "/bench/404/p", 1.0)]).attempts == {1: 2}


def test_nginx_log_lines() -> None:
    got = parse_nginx_line("1700000000.250 0.050 127.0.0.5 304 /bench/200/7?kb=40")
    assert got == LoggedRequest("127.0.0.5", "/bench/200/7?kb=40", 304, 1700000000.2,
                                1700000000.25)
    assert parse_nginx_line("1700000000.250 0.000 127.0.0.5 200 /_nginx_status") is None
    assert parse_nginx_line("garbage") is None
    assert parse_nginx_line("x 0.1 127.0.0.5 200 /bench/200/1") is None


def test_floor_counts_line() -> None:
    assert floor_counts("noise\nanswered 5 of 6; not modified 3; sent validators 4; "
                        "kept validators 0\n") == {"answered": 5, "not modified": 3,
                                                   "sent validators": 4,
                                                   "kept validators": 0}


# ---- the floor's revalidation pass, against the mock server -----------------------------

@pytest.fixture(scope="module")
def target() -> Iterator[MockTarget]:
    with MockServer(hosts=["127.0.0.2-3"], tls=False, bomb_mb=0,
                    extra_args=["--validators", "on"]) as mock:
        yield MockTarget(mock)


def test_floor_revalidation_pass_gets_304s(target: MockTarget, tmp_path: Path) -> None:
    urls = [target.url(f"/bench/{status}/{i}", host=1 + i % 2)
            for i, status in enumerate((200, 200, 200, 301, 302, 404, 500, 200))]
    setup = Setup(per_host=2, total=4, retries=2)
    kept = tmp_path / "validators.json"
    target.requests_since()
    first = run_floor(tmp_path, urls, setup, 120, validators=kept)
    first_log = target.requests_since()
    second = run_floor(tmp_path, urls, setup, 120, validators=kept, revalidate=True)
    second_log = target.requests_since()
    # Four pages and two redirects' targets carry validators; a redirect carries them on.
    assert len(json.loads(kept.read_text())) == 6
    assert first.classified["answered"] == second.classified["answered"] == len(urls)
    assert second.classified["not modified"] == second.classified["sent validators"] == 6
    assert not_modified(first_log) == 0 and not_modified(second_log) == 6
    assert retries(first_log).attempts == {1: 9, 3: 1}  # the 500, Scrapy's 2 retries
    block = notes(setup, [first, second], {FLOOR_FIRST: first_log,
                                           FLOOR_REVALIDATION: second_log}, 0.0)
    assert block.failures == []
    assert any("6 answers 304 for 6 URLs" in line for line in block.lines)


def test_floor_revalidation_without_304s_fails_the_run(target: MockTarget,
                                                        tmp_path: Path) -> None:
    urls = [target.url(f"/bench/200/{i}") for i in range(3)]
    stale = tmp_path / "stale.json"  # validators the server no longer matches
    stale.write_text(json.dumps({u: {"If-None-Match": '"old"'} for u in urls}))
    target.requests_since()
    second = run_floor(tmp_path, urls, Setup(2, 4, 2), 120, validators=stale,
                       revalidate=True)
    block = notes(Setup(2, 4, 2), [second], {FLOOR_REVALIDATION: target.requests_since()},
                  0.0)
    assert second.classified["not modified"] == 0
    assert len(block.failures) == 1 and "got 0 304s" in block.failures[0]


def test_floor_ratio_pools_cpu_sums_not_per_round_ratios() -> None:
    from benchmarks.floor_ratio import pooled

    # Per-round ratios 2.0 and 1.0 average 1.5; the pooled ratio weighs by CPU: 4 / 3.
    assert pooled([(1.0, 2.0), (2.0, 2.0)]) == pytest.approx(4 / 3)
    with pytest.raises(ValueError, match="no floor CPU"):
        pooled([(0.0, 1.0)])
