"""Text from outside cannot drive the terminal, a spreadsheet or a Markdown page.

The end-to-end tests run the real CLI in a subprocess over a store ingested from a seed
whose anchors and title carry rich markup, ANSI/OSC 8 escapes, C1 controls, bidi
overrides and spreadsheet formulas.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.escaping import csv_cell, json_safe, markdown_text, one_line
from tests.helpers import REPO_ROOT

# Every character that must never reach a terminal raw: C0 (but newline, which output
# needs), DEL, C1, bidi embeddings/overrides/isolates/marks, Unicode line separators.
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                       "\u2066-\u2069\u2028\u2029]")
FORMULA = ("=", "+", "-", "@", "\t", "\r")

HOSTILE_SEED = """<!DOCTYPE html><html><head><title>Hostile &#x1b;[2J title [/x]</title>
</head><body><article><p>See <a href="https://example.org/a">[/x] closes nothing</a>,
<a href="https://example.org/b">[link=https://evil.example/]click me[/link]</a>,
<a href="https://example.org/c">&#x1b;[31mred&#x1b;]8;;https://evil.example/&#x7;osc8&#x1b;]8;;&#x7;
text</a>, <a href="https://example.org/d">&#x9b;31m c1 csi &#x202e;txt.exe&#x2066;iso&#x2069;</a>,
<a href="https://example.org/e">=HYPERLINK("https://evil.example","x")</a>,
<a href="https://example.org/f">+1+1</a>, <a href="https://example.org/g">-2+3</a>,
<a href="https://example.org/h">@SUM(A1)</a>,
<a href="https://example.org/i">a | pipe](https://evil.example/) &lt;script&gt;x&lt;/script&gt;</a>.
</p></article></body></html>
"""
# HTML maps &#x9b; to U+203A as the HTML standard says; a Markdown seed keeps a raw C1.
HOSTILE_MARKDOWN = "# Notes\n\nA raw [\x9b31m csi \u202e gnp.exe](https://example.org/k).\n"


# ---------------------------------------------------------------------- the functions


@pytest.mark.parametrize("raw", [
    "\x1b[31mred", "\x1b]8;;https://evil.example/\x07x\x1b]8;;\x07", "\x9b31m", "a\x00b",
    "\x7f", "\u202etxt.exe", "\u2066iso\u2069", "\u200f\u061c", "line\u2028break", "\r\n\t",
])
def test_one_line_leaves_no_control_or_bidi_character(raw: str) -> None:
    shown = one_line(f"before {raw} after")
    assert not FORBIDDEN.search(shown) and "\n" not in shown
    assert shown.startswith("before ") and shown.endswith(" after")


def test_one_line_keeps_ordinary_text() -> None:
    assert one_line("  Blinken  meets\nWang Yi — 王毅 [1] ") == "Blinken meets Wang Yi — 王毅 [1]"
    assert one_line(None) == "" and one_line(404) == "404"


@pytest.mark.parametrize("value", ["=1+1", "+1", "-2", "@SUM(A1)", "\t=1", "\r=1", "  =1",
                                   "=HYPERLINK(\"https://evil.example\")"])
def test_csv_cell_neutralises_formulas(value: str) -> None:
    cell = csv_cell(value)
    assert isinstance(cell, str) and cell.startswith("'") and cell[1:] == value


def test_csv_cell_leaves_text_and_numbers_and_drops_escapes() -> None:
    assert csv_cell("a = b") == "a = b" and csv_cell(3) == 3 and csv_cell(None) is None
    assert csv_cell("multi\nline\ttext") == "multi\nline\ttext"
    assert not FORBIDDEN.search(str(csv_cell("\x1b[2J\x9b\u202ex")).replace("\t", ""))


def test_json_safe_is_the_same_data_without_raw_controls() -> None:
    data = {"a": "\x1b[31m\x9b\u202e\u2066\u2028\x7f 王毅 \"q\" \\"}
    dumped = json_safe(json.dumps(data, ensure_ascii=False))
    assert not FORBIDDEN.search(dumped)
    assert json.loads(dumped) == data and "王毅" in dumped


def test_markdown_text_escapes_links_pipes_and_html() -> None:
    shown = markdown_text("[x](https://evil.example/) | <img src=x> \x1b[2J")
    assert shown.startswith(r"\[x\]\(https://evil\.example/\)") and r"\|" in shown
    assert "<" not in shown and "\x1b" not in shown and "&lt;img" in shown


def test_one_line_is_linear_on_adversarial_input() -> None:
    text = "\x1b[" * 200_000 + "\u202e" * 200_000
    started = time.perf_counter()
    one_line(text), csv_cell(text), json_safe(text), markdown_text(text)
    assert time.perf_counter() - started < 5.0  # ~0.5 s measured (10x slack); quadratic: hours


# ---------------------------------------------------------------------- the real CLI


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    # Wide columns: rich folds long cells at 80 columns, which would split `[link=`.
    env = {**os.environ, "COLUMNS": "3000"}
    return subprocess.run([sys.executable, "-m", "rotwatch", "--data-dir", str(data_dir), *args],
                          capture_output=True, timeout=120, cwd=REPO_ROOT, env=env,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hostile")
    seeds = base / "seeds"
    seeds.mkdir()
    (seeds / "hostile.html").write_text(HOSTILE_SEED, encoding="utf-8")
    (seeds / "hostile.md").write_text(HOSTILE_MARKDOWN, encoding="utf-8")
    done = _run(base / "data", "ingest", str(seeds))
    assert done.returncode == 0, done.stderr.decode()
    return base / "data"


def _assert_clean(done: subprocess.CompletedProcess[bytes]) -> str:
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr
    text = done.stdout.decode("utf-8")
    bad = FORBIDDEN.findall(text.replace("\r\n", "\n"))  # CSV rows end in CRLF
    assert not bad, f"raw control/bidi characters in output: {sorted(set(bad))!r}"
    return text


def test_links_table_shows_markup_literally_and_no_escapes(hostile_store: Path) -> None:
    text = _assert_clean(_run(hostile_store, "links"))
    assert "[link=https://evil.example/]click me[/link]" in text
    assert "[/x] closes nothing" in text and "txt.exe" in text


def test_links_csv_neutralises_formulas(hostile_store: Path) -> None:
    text = _assert_clean(_run(hostile_store, "links", "--format", "csv"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 10
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(FORMULA), (column, cell)
    anchors = {row["url"]: row["anchor_text"] for row in rows}
    assert anchors["https://example.org/e"] == "'=HYPERLINK(\"https://evil.example\",\"x\")"
    assert anchors["https://example.org/g"] == "'-2+3"


def test_links_json_is_lossless_and_escaped(hostile_store: Path) -> None:
    text = _assert_clean(_run(hostile_store, "links", "--format", "json"))
    anchors = {row["url"]: row["anchor_text"] for row in json.loads(text)}
    assert "\u202e" in anchors["https://example.org/d"]  # the data is kept, only escaped
    assert anchors["https://example.org/k"].startswith("\x9b31m") and "\\u009b" in text
    assert anchors["https://example.org/e"].startswith("=HYPERLINK")


def test_report_csv_neutralises_formulas(hostile_store: Path) -> None:
    text = _assert_clean(_run(hostile_store, "report", "--state", "new", "--format", "csv"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 10
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(FORMULA), (column, cell)


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "json", "junit"])
def test_every_report_format_is_free_of_escapes(hostile_store: Path, fmt: str) -> None:
    text = _assert_clean(_run(hostile_store, "report", "--state", "new", "--format", fmt))
    assert "txt" in text and "closes nothing" in text
    if fmt == "markdown":
        assert r"\[link=https://evil\.example/\]" in text
        assert not re.search(r"(?<!\\)\[link=", text)  # every [ of the anchor is escaped
        assert r"a \| pipe\]\(https://evil\.example/\)" in text and "<script" not in text
    if fmt == "html":
        assert "<script" not in text and "&lt;script&gt;" in text
