"""Main text extracted only when a comparison needs it (rotwatch/lazy_text.py), in real crawls.

One data dir, four check runs of three targets on the mock server:
  run 1: `art` article A, `late` a 404, `off` article B     (snapshots on)
  run 2: `art` A again, `late` article C, `off` B again      (snapshots on)
  run 3: `art` rewritten                                     (snapshots on)
  run 4: `off` rewritten                                     (snapshots OFF)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MockServer
from tests.helpers import query, rotwatch, write_config

SENTENCES = {
    "levee": "the inspectors walked section {i} at dawn and found the embankment dry",
    "lantern parade": "musicians and cooks filled square {i} with songs and dumplings",
    "bridge": "engineers bolted girder {i} back in place while barges waited below",
    "harbour channel": "a dredger cleared berth {i} of silt so the ferries could dock",
    "ferry timetable": "boats to island {i} now leave every hour from the north pier",
}


def _article(headline: str, topic: str, n: int = 10) -> str:
    paragraphs = "".join(
        f"<p>Paragraph {i} of the {topic} report: "
        f"{SENTENCES[topic].format(i=i)}, {headline.lower()} week {i * 7}.</p>"
        for i in range(n))
    return (f"<html><head><title>{headline} | The Gazette</title></head><body>"
            f"<nav><a href='/'>Home</a></nav><article><h1>{headline}</h1>{paragraphs}"
            "</article><footer>Contact us</footer></body></html>")


ART = _article("Levee holds", "levee")
ART_REWRITTEN = _article("Lantern festival", "lantern parade")
OFF = _article("Bridge reopens", "bridge")
OFF_REWRITTEN = _article("Harbour dredged", "harbour channel")


def _rows(data: Path, url: str) -> list[tuple[Any, ...]]:
    """Per check of `url`: similarity, drifted, content_hash, snapshot id, its record type
    and its text."""
    return query(data, "SELECT c.similarity, c.drifted, c.content_hash, s.id, s.record_type, "
                       "s.text, s.title FROM checks c JOIN targets t ON t.id = c.target_id "
                       "LEFT JOIN snapshots s ON s.id = c.snapshot_id WHERE t.url = ? "
                       "ORDER BY c.id", url)


@pytest.fixture(scope="module")
def runs(mockserver: MockServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("lazy")
    name = tmp.name
    urls = {"art": mockserver.set_page(f"{name}-art", ART),
            "late": mockserver.set_page(f"{name}-late", "<p>gone</p>", status=404),
            "off": mockserver.set_page(f"{name}-off", OFF)}
    seed = tmp / "seed.md"
    seed.write_text("".join(f"- [{k}]({u})\n" for k, u in urls.items()), encoding="utf-8")
    data = tmp / "data"
    on = write_config(tmp / "on.toml")
    off = write_config(tmp / "off.toml", snapshots=False)
    assert rotwatch(data, "ingest", str(seed), config=on).returncode == 0
    seen: dict[str, Any] = {"data": data, "urls": urls, "on": on}

    def check(config: Path) -> None:
        done = rotwatch(data, "check", "--all", "--allow-private", config=config)
        assert done.returncode in (0, 2), done.stderr

    check(on)
    seen["after1"] = {k: _rows(data, u) for k, u in urls.items()}
    mockserver.set_page(f"{name}-late", _article("Late arrival", "ferry timetable"))
    check(on)
    seen["after2"] = {k: _rows(data, u) for k, u in urls.items()}
    seen["diff_late"] = rotwatch(data, "show", urls["late"], "--diff", config=on)
    mockserver.set_page(f"{name}-art", ART_REWRITTEN)
    check(on)
    seen["after3"] = {k: _rows(data, u) for k, u in urls.items()}
    mockserver.set_page(f"{name}-off", OFF_REWRITTEN)
    check(off)
    seen["after4"] = {k: _rows(data, u) for k, u in urls.items()}
    return seen


def test_a_first_capture_is_archived_without_extracting_its_text(runs: dict[str, Any]
                                                                 ) -> None:
    (similarity, drifted, content_hash, snapshot, kind, text, title), = runs["after1"]["art"]
    assert snapshot and kind == "response"
    assert (similarity, drifted, content_hash, text) == (None, None, None, None)
    assert title == "Levee holds"  # the headline, as extraction would have titled it


def test_an_identical_payload_is_judged_the_same_with_no_text_work(runs: dict[str, Any]
                                                                   ) -> None:
    first, again = runs["after2"]["art"]
    assert again[4] == "revisit"
    assert (again[0], again[1]) == (1.0, 0)
    assert first[5] is None and again[5] is None  # still nothing extracted


def test_a_differing_capture_extracts_both_texts_and_compares_them(runs: dict[str, Any]
                                                                   ) -> None:
    first, _, changed = runs["after3"]["art"]
    assert changed[4] == "response" and changed[1] == 1 and changed[0] < 0.5
    assert "lantern parade" in changed[5]
    # the baseline's text, read back from its WARC record, is kept with it
    assert first[5] is not None and "levee report" in first[5]
    # its check stays as recorded (checks are append-only): no fingerprint then
    assert first[2] is None and changed[2] is not None


def test_without_snapshots_a_change_is_still_compared_with_the_archived_baseline(
        runs: dict[str, Any]) -> None:
    *_, last = runs["after4"]["off"]
    assert last[3] is None  # no snapshot this time
    assert last[1] == 1 and last[0] < 0.5 and last[2] is not None
    baseline = runs["after4"]["off"][0]
    assert baseline[5] is not None and "bridge report" in baseline[5]


def test_show_diff_extracts_a_capture_whose_text_was_never_needed(runs: dict[str, Any]
                                                                  ) -> None:
    # late's baseline is a 404 (nothing to compare with), so its article was never
    # extracted during the crawl
    assert runs["after2"]["late"][-1][5] is None
    diff = runs["diff_late"]
    assert diff.returncode == 0, diff.stderr
    assert any(line.startswith("+Paragraph 3 of the ferry timetable report")
               for line in diff.stdout.splitlines()), diff.stdout
