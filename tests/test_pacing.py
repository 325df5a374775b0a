"""Hosts projected to finish early get fewer requests in flight, never more than the cap
(core/pacing.py, crawler/fetch/pacing.py)."""

from __future__ import annotations

import random

import pytest

from core.pacing import MIN_ATTEMPTS, HostWork, dither, paced_concurrency, requests_per_target
from crawler.fetch.pacing import HostFeed


def test_a_host_whose_retries_make_it_slowest_keeps_the_cap_and_the_others_are_slowed() -> None:
    # The benchmark's shape: every host has 100 targets left, one answers 500 to a fifth
    # of them and retries those twice (1.4 requests per target).
    hosts = [HostWork(f"h{i}", 60, 40, 300, 0) for i in range(4)]
    hosts.append(HostWork("failing", 60, 40, 350, 100))
    wanted = paced_concurrency(hosts, cap=2)
    assert wanted["failing"] == 2
    # 100 requests left against 140: 2 × 100 / (0.8 × 140) ≈ 1.79 in flight suffice.
    assert all(wanted[f"h{i}"] == pytest.approx(2 * 100 / (0.8 * 140)) for i in range(4))


def test_equal_hosts_and_a_single_host_are_not_slowed() -> None:
    same = [HostWork(f"h{i}", 10, 90, 50, 5) for i in range(3)]
    assert set(paced_concurrency(same, cap=4).values()) == {4.0}
    assert paced_concurrency([HostWork("only", 3, 0, 0, 0)], cap=2) == {"only": 2.0}
    assert paced_concurrency([HostWork("idle", 0, 0, 0, 0)], cap=2) == {"idle": 2.0}
    assert paced_concurrency([], cap=2) == {}


def test_a_retry_rate_counts_only_after_enough_attempts() -> None:
    assert requests_per_target(HostWork("h", 1, 0, MIN_ATTEMPTS - 1, 10)) == 1.0
    assert requests_per_target(HostWork("h", 1, 0, 70, 20)) == pytest.approx(1.4)


def test_pacing_never_exceeds_the_cap_nor_goes_below_one_and_dithers_to_the_fraction() -> None:
    rng = random.Random(13)
    for _ in range(300):
        cap = rng.randint(1, 12)
        hosts = [HostWork(f"h{i}", rng.randint(0, 500), rng.randint(0, 5000),
                          rng.randint(0, 900), rng.randint(0, 300)) for i in range(8)]
        wanted = paced_concurrency(hosts, cap)
        assert all(1.0 <= n <= cap for n in wanted.values()), (cap, wanted)
        credit: dict[str, float] = {}
        totals = dict.fromkeys(wanted, 0)
        for _ in range(100):
            whole, credit = dither(wanted, credit)
            assert all(1 <= n <= cap for n in whole.values())
            for host, n in whole.items():
                totals[host] += n
        # Over 100 periods the whole numbers average to the fraction asked for.
        assert all(abs(totals[h] / 100 - wanted[h]) <= 0.01 for h in wanted)


def test_a_feed_counts_what_is_left_of_each_hosts_due_targets() -> None:
    due: dict[str, int] = {}
    feed = HostFeed(due)
    assert feed.unfed("a") == 0  # the plan has not arrived: nothing known
    due.update({"a": 5, "b": 2})  # filled later, as the crawl process's plan arrives
    feed.fed.update(["a", "a", "b", "b", "b"])
    assert (feed.unfed("a"), feed.unfed("b"), feed.unfed("c")) == (3, 0, 0)


def test_a_check_crawl_does_not_pace_unless_turned_on() -> None:
    from crawler.fetch.pacing import PACING
    from crawler.fetch.settings import scrapy_settings
    from rotwatch.config import CrawlConfig

    settings = scrapy_settings(CrawlConfig())
    assert settings[PACING] is False  # docs/benchmarks.md: no gain shown, off
    assert "crawler.fetch.pacing.HostPacing" in settings["EXTENSIONS"]  # ready when on
