"""Web-archive suggestions: the formats read, `rotwatch suggest` against a fake archive on
loopback (TimeMap, TimeGate, availability JSON, Save-Page-Now), the cache, and reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.store import Store
from core.memento import Memento, mementos, nearest, parse_availability, parse_links
from core.records import Verdict
from rotwatch.cli import cli
from rotwatch.ingest import ingest_paths
from rotwatch.report import RENDERERS, build_report
from rotwatch.webarchive_http import Pacer
from tests.fake_archive import FakeArchive, fake_archive
from tests.test_triage import DEAD, OTHER, T0, add_checks

CITED = T0 - timedelta(days=10)  # the links were first seen then: the citation day
COPIES = [datetime(2025, 6, 1, tzinfo=UTC), CITED + timedelta(days=2, hours=3),
          datetime(2026, 9, 1, tzinfo=UTC)]
NEAREST = CITED + timedelta(days=2, hours=3)


# ----------------------------------------------------------------------- the formats


def test_link_format_with_commas_in_dates_and_uris_is_read() -> None:
    text = ('<http://a.example/x,y>; rel="original",\n'
            '<http://arc.example/web/20240102030405/http://a.example/x,y>; rel="first memento";'
            ' datetime="Tue, 02 Jan 2024 03:04:05 GMT",\n'
            '<javascript:alert(1)>; rel="memento"; datetime="Wed, 03 Jan 2024 00:00:00 GMT",\n'
            '<http://arc.example/web/2/x>; rel="memento"; datetime="not a date",\n'
            'garbage without brackets; rel="memento"')
    found = mementos(parse_links(text))
    assert found == [Memento("http://arc.example/web/20240102030405/http://a.example/x,y",
                             datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))]


def test_the_nearest_copy_wins_and_a_tie_goes_to_the_earlier() -> None:
    a, b = (Memento(f"http://arc.example/{n}", datetime(2024, 1, n, tzinfo=UTC)) for n in (1, 3))
    assert nearest([b, a], datetime(2024, 1, 2, tzinfo=UTC)) == a
    assert nearest([], datetime(2024, 1, 2, tzinfo=UTC)) is None


@pytest.mark.parametrize("body", ["", "[]", "{", '{"archived_snapshots": {}}',
                                  '{"archived_snapshots": {"closest": {"available": false}}}',
                                  '{"archived_snapshots": {"closest": {"timestamp": "x", '
                                  '"url": "http://a.example/"}}}', "[" * 100_000])
def test_availability_answers_that_say_nothing_give_nothing(body: str) -> None:
    assert parse_availability(body) is None


def test_the_pacer_spaces_requests_to_one_endpoint() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(2.0, clock=lambda: now[0], sleep=sleep)
    for key in ("a", "a", "b", "a"):
        pacer.wait(key)
    assert slept == [2.0, 2.0]  # the second and fourth "a"; "b" has its own pace


# ------------------------------------------------------------------ rotwatch suggest


def _setup(tmp_path: Path, archive: FakeArchive | None, **suggest: object) -> list[str]:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "alpha.html").write_text(
        f'<html><head><title>Alpha</title></head><body><a href="{DEAD}">gone</a> and '
        f'<a href="{OTHER}">alive</a></body></html>', encoding="utf-8")
    data = tmp_path / "data"
    with Store(data / "rotwatch.db") as st:
        ingest_paths(st, [str(seeds)], now=CITED, max_seed_bytes=1_000_000)
    add_checks(data / "rotwatch.db", DEAD, [(T0 - timedelta(days=d), Verdict.BROKEN)
                                            for d in (3, 2, 1)], "dead")
    add_checks(data / "rotwatch.db", OTHER, [(T0, Verdict.OK)], "alive")
    lines = ["[suggest]"]
    if archive is not None:
        lines.append("allow_private_addresses = true")
    for key, value in {"min_interval": 0, "retries": 2, **suggest}.items():
        value = value.replace("BASE", archive.base) if archive and isinstance(value, str) \
            else value
        lines.append(f"{key} = {json.dumps(value)}")
    (tmp_path / "rotwatch.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ["--data-dir", str(data), "--config", str(tmp_path / "rotwatch.toml")]


def _suggestion(base: list[str]) -> dict | None:
    """The dead link's web-archive suggestion in the JSON report, as url/source/time."""
    done = CliRunner().invoke(cli, [*base, "report", "--format", "json"])
    links = [x for seed in json.loads(done.stdout)["seeds"] for x in seed["links"]]
    dead = next(x for x in links if x["target_url"] == DEAD)
    copies = [s for s in dead["suggestions"] if s["kind"] == "web-archive"]
    assert len(copies) <= 1 and (not copies or dead["suggestion"] is not None)
    return {k: copies[0][k] for k in ("url", "source", "captured_at")} if copies else None


@pytest.mark.parametrize(("key", "endpoint", "source"), [
    ("memento_timemap", "BASE/timemap/link/", "memento"),
    ("memento_timegate", "BASE/timegate/", "memento-timegate"),
    ("memento_timegate", "BASE/bare-timegate/", "memento-timegate"),
    ("wayback_availability", "BASE/wayback/available", "wayback"),
])
def test_suggest_finds_the_copy_nearest_the_citation_and_caches_it(
        tmp_path: Path, key: str, endpoint: str, source: str) -> None:
    with fake_archive({DEAD: COPIES}) as archive:
        base = _setup(tmp_path, archive, **{key: endpoint})
        done = CliRunner().invoke(cli, [*base, "suggest"])
        assert done.exit_code == 0, done.output
        assert "1 copy(ies) found" in done.output
        asked = len(archive.log)
        again = CliRunner().invoke(cli, [*base, "suggest"])
        assert "asked 0 question(s)" in again.output and "1 cached" in again.output
        assert len(archive.log) == asked, "a fresh cached answer is not asked again"
    suggestion = _suggestion(base)
    assert suggestion == {"url": f"{archive.base}/web/{NEAREST:%Y%m%d%H%M%S}/{DEAD}",
                          "source": source, "captured_at": NEAREST.isoformat()}
    with Store(Path(base[1]) / "rotwatch.db") as st:
        report = build_report(st, T0)
    for render in RENDERERS.values():
        assert suggestion["url"] in render(report)


def test_suggest_is_off_by_default_and_asks_nobody(tmp_path: Path) -> None:
    base = _setup(tmp_path, None)
    done = CliRunner().invoke(cli, [*base, "suggest"])
    assert done.exit_code == 1 and "no web archive is configured" in done.output
    assert _suggestion(base) is None


def test_a_loopback_archive_is_refused_like_the_crawl_refuses_it(tmp_path: Path) -> None:
    with fake_archive({DEAD: COPIES}) as archive:
        base = _setup(tmp_path, archive, memento_timemap="BASE/timemap/link/")
        config = Path(base[3])
        config.write_text(config.read_text().replace("allow_private_addresses = true", ""))
        done = CliRunner().invoke(cli, [*base, "suggest"])
        assert not archive.log
    assert done.exit_code == 1 and "non-public address" in done.output
    assert "Traceback" not in done.output


def test_transient_failures_are_retried_and_oversized_answers_refused(tmp_path: Path) -> None:
    with fake_archive({DEAD: COPIES}) as archive:
        base = _setup(tmp_path, archive, memento_timemap="BASE/flaky/timemap/link/",
                      wayback_availability="BASE/huge/x", max_response_kb=64)
        done = CliRunner().invoke(cli, [*base, "suggest"])
        assert [p for _, p in archive.log].count(f"/flaky/timemap/link/{DEAD}") == 2
    assert done.exit_code == 0 and "1 copy(ies) found" in done.output
    assert "answered more than 65536 bytes" in done.output and "1 failed" in done.output


def test_a_slow_archive_times_out_with_the_cause(tmp_path: Path) -> None:
    with fake_archive({DEAD: COPIES}) as archive:
        base = _setup(tmp_path, archive, memento_timemap="BASE/slow/", timeout=0.5,
                      retries=0)
        done = CliRunner().invoke(cli, [*base, "suggest"])
    assert done.exit_code == 1 and "timed out" in done.output and "1 failed" in done.output
    with Store(Path(base[1]) / "rotwatch.db") as st:
        row = st.db.conn.execute("SELECT found, error FROM archive_lookups").fetchone()
    assert row[0] == 0 and "timed out" in row[1]  # cached as a failure, asked again in 1 h


def test_the_count_budget_leaves_the_rest_for_the_next_run(tmp_path: Path) -> None:
    with fake_archive({DEAD: COPIES}) as archive:
        base = _setup(tmp_path, archive, memento_timemap="BASE/timemap/link/",
                      wayback_availability="BASE/wayback/available", max_lookups=1)
        first = CliRunner().invoke(cli, [*base, "suggest"])
        second = CliRunner().invoke(cli, [*base, "suggest"])
    assert "asked 1 question(s)" in first.output and "1 left for the next run" in first.output
    assert "asked 1 question(s)" in second.output and "1 cached" in second.output


def test_save_asks_the_capture_endpoint_for_alive_pages_once_per_period(tmp_path: Path) -> None:
    with fake_archive({}) as archive:
        base = _setup(tmp_path, archive, save_endpoint="BASE/save/", max_saves=5)
        first = CliRunner().invoke(cli, [*base, "suggest", "--save"])
        second = CliRunner().invoke(cli, [*base, "suggest", "--save"])
        saves = [p for _, p in archive.log if p.startswith("/save/")]
    assert first.exit_code == 0, first.output
    assert "1 capture(s) requested" in first.output and "0 capture(s)" in second.output
    assert saves == [f"/save/{OTHER}"]  # the alive page only, and only once
    with Store(Path(base[1]) / "rotwatch.db") as st:
        row = st.db.conn.execute("SELECT url, ok, memento_url FROM archive_saves").fetchone()
    assert row[0] == OTHER and row[1] == 1 and row[2].startswith(f"{archive.base}/web/")
