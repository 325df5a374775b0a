"""Reports a reviewer acts on: plain reasons, suggestions with sources, captures that are
never error pages (read back from the real WARC), histories, time zones, every format."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from archive.store import Store
from archive.warc.reader import read_response
from rotwatch.cli import cli
from rotwatch.report import RENDERERS, Report, build_report, render_html, render_json
from tests.report_fixture import HOSTILE, NOW, TITLE, URLS, ReportStore, build

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def fx(tmp_path_factory: pytest.TempPathFactory) -> ReportStore:
    return build(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def rep(fx: ReportStore) -> Report:
    with Store(fx.db_path) as st:
        return build_report(st, NOW, zone=SHANGHAI, timezone="Asia/Shanghai")


def _by_url(rep: Report) -> dict[str, object]:
    return {link.target_url: link for link in rep.links}


def test_order_reasons_and_ages(rep: Report) -> None:
    links = _by_url(rep)
    assert [link.state for link in rep.links] == ["dead", "dead", "failing", "failing",
                                                  "changed", "moved", "blocked"]
    assert URLS["alive"] not in links
    gone, dead = links[URLS["gone"]], links[URLS["dead"]]
    assert gone.explanation == "The server says this page is gone (HTTP 410)."  # type: ignore[attr-defined]
    assert dead.explanation == "The server says this page does not exist (HTTP 404)."  # type: ignore[attr-defined]
    refused = links[URLS["refused"]]
    assert refused.explanation == "Could not connect: the server refused."  # type: ignore[attr-defined]
    assert "111" in refused.error_message  # type: ignore[attr-defined]  # the detail stays
    page = render_html(rep)
    assert "dead for 12 days" in page and "moved 12 days ago" in page


def test_capture_is_never_an_error_page(fx: ReportStore, rep: Report) -> None:
    links = _by_url(rep)
    dead = links[URLS["dead"]]
    snap = dead.snapshot  # type: ignore[attr-defined]
    assert dead.snapshot_kind == "last-healthy" and snap is not None  # type: ignore[attr-defined]
    # Read the record back where the report says it is: the page as it worked.
    record = read_response(fx.warc_dir, snap.warc_file, snap.warc_offset)
    assert record.status == 200 and b"what the article relied on" in record.payload
    gone = links[URLS["gone"]]
    assert gone.snapshot is None and gone.suggestions == ()  # type: ignore[attr-defined]
    changed = links[URLS["changed"]]
    assert changed.snapshot_kind == "baseline" and changed.similarity == 0.31  # type: ignore[attr-defined]
    base = read_response(fx.warc_dir, changed.snapshot.warc_file,  # type: ignore[attr-defined]
                         changed.snapshot.warc_offset)  # type: ignore[attr-defined]
    assert b"as of check 0" in base.payload
    assert "31 %" in changed.explanation or "31%" in changed.explanation  # type: ignore[attr-defined]


def test_suggestions_in_order_with_sources(rep: Report) -> None:
    moved = _by_url(rep)[URLS["moved"]]
    kinds = [(s.kind, s.source) for s in moved.suggestions]  # type: ignore[attr-defined]
    assert kinds == [("new-url", "redirect"), ("capture", "rotwatch")]
    assert moved.suggestion.url == URLS["moved-new"]  # type: ignore[attr-defined]
    dead = _by_url(rep)[URLS["dead"]]
    assert [s.kind for s in dead.suggestions] == ["capture"]  # type: ignore[attr-defined]


def test_history_strip_and_uptime(rep: Report) -> None:
    links = _by_url(rep)
    assert links[URLS["dead"]].history == "obbb"  # type: ignore[attr-defined]
    assert links[URLS["dead"]].uptime == 25.0  # type: ignore[attr-defined]
    assert links[URLS["blocked"]].uptime is None  # type: ignore[attr-defined]  # no word
    page = render_html(rep)
    assert page.count('<svg class="strip"') == len(rep.links)
    assert "checks 2–4 of 4: broken" in page
    assert [p.failed for p in rep.runs] == [2, 3, 3, 4]


def test_lang_title_link_and_timezone(rep: Report) -> None:
    seed = rep.seeds[0]  # type: ignore[index]
    assert seed.lang == "zh"
    page = render_html(rep)
    assert '<html lang="en">' in page and '<h2 lang="zh">' in page and TITLE in page
    assert "2026-03-01 20:00 CST" in page  # NOW in Shanghai
    assert "<script" not in page.lower() and "&lt;script&gt;" in page


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_every_format_carries_reason_and_suggestion(rep: Report, fmt: str) -> None:
    text = RENDERERS[fmt](rep)
    assert URLS["moved-new"] in text  # the suggestion
    assert "redirect" in text and "rotwatch" in text  # its sources
    assert "this page is gone" in text  # the plain reason
    if fmt == "junit":
        assert ET.fromstring(text).get("failures") == "4"


def test_csv_and_json_structure(rep: Report, fx: ReportStore) -> None:
    rows = list(csv.DictReader(io.StringIO(RENDERERS["csv"](rep))))
    moved = next(r for r in rows if r["target_url"] == URLS["moved"])
    assert moved["suggestion_source"] == "redirect" and URLS["moved-new"] in moved["suggestion"]
    assert rows[0]["anchor_text"] == HOSTILE
    data = json.loads(render_json(rep))
    assert data["timezone"] == "Asia/Shanghai" and data["link_counts"]["dead"] == 2
    link = next(x for x in data["seeds"][0]["links"] if x["target_url"] == URLS["dead"])
    snap = link["snapshot"]
    record = read_response(fx.warc_dir, snap["warc_file"], snap["warc_offset"])
    assert record.status == 200
    assert link["suggestions"][0] == {"kind": "capture", "source": "rotwatch", "url": None,
                                      "snapshot": snap, "note": link["suggestions"][0]["note"],
                                      "captured_at": None}  # added for web-archive copies
    assert link["triage"] is None  # no reviewer marked it


# The JSON field names of the report before issue 11: they may gain siblings, never go.
OLD_TOP = {"generated_at", "states", "totals", "seeds"}
OLD_SEED = {"path", "url", "title", "links"}
OLD_LINK = {"target_url", "state", "role", "anchor_text", "context", "last_verdict", "reason",
            "status", "first_failure_at", "consecutive_failures", "last_ok_at",
            "last_checked_at", "final_url", "snapshot"}
OLD_SNAPSHOT = {"id", "fetched_at", "record_type"}


def test_json_keeps_every_old_field_name(rep: Report) -> None:
    data = json.loads(render_json(rep))
    assert set(data) >= OLD_TOP
    for seed in data["seeds"]:
        assert set(seed) >= OLD_SEED
        for link in seed["links"]:
            assert set(link) >= OLD_LINK
            if link["snapshot"]:
                assert set(link["snapshot"]) >= OLD_SNAPSHOT
    doc = (Path(__file__).resolve().parents[1] / "docs" / "reports.md").read_text()
    for name in OLD_TOP | OLD_SEED | OLD_LINK | OLD_SNAPSHOT | {"suggestions", "history"}:
        assert f"`{name}`" in doc, f"docs/reports.md does not document {name}"


def test_cli_timezone_config_and_streamed_output(fx: ReportStore, tmp_path: Path) -> None:
    config = tmp_path / "r.toml"
    config.write_text('[report]\ntimezone = "Asia/Shanghai"\n')
    out = tmp_path / "r.html"
    base = ["--config", str(config), "--data-dir", str(fx.data_dir), "report"]
    done = CliRunner().invoke(cli, [*base, "--format", "html", "-o", str(out)])
    assert done.exit_code == 2, done.output
    assert "2026-03-01" in out.read_text() and "CST" in out.read_text()
    config.write_text('[report]\ntimezone = "Mars/Olympus"\n')
    bad = CliRunner().invoke(cli, [*base, "--format", "json"])
    assert bad.exit_code == 1 and "unknown time zone 'Mars/Olympus'" in bad.output
    assert "Traceback" not in bad.output
