"""Reports, WARC export and fixity checks over a real store and real WARC files (no network)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from archive.store import CheckRow, SnapshotRow, Store, TargetUpdate
from archive.warc.writer import ArchivedRecord, Exchange, SnapshotWriter
from core.records import Hop, Judgement, Observation, Verdict
from rotwatch.cli import cli
from rotwatch.cli_export import export
from rotwatch.cli_export import verify as verify_command
from rotwatch.cli_report import report
from rotwatch.export import export_warc, verify
from rotwatch.ingest import ingest_paths
from rotwatch.report import RENDERERS, build_report, render_csv, render_html, render_junit

for _command in (report, export, verify_command):
    cli.add_command(_command)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EARLY = NOW - timedelta(days=30)
HOSTILE = '<script>alert("x")</script> & "quotes"'
URLS = {
    "dead": "https://dead.example/gone",
    "failing": "https://failing.example/flaky",
    "moved": "https://moved.example/old",
    "alive": "https://alive.example/fine",
}
BODY = b"<html><title>The cited page</title><p>What the article relied on.</p></html>"


@dataclass(frozen=True)
class Fixture:
    data_dir: Path
    db_path: Path
    warc_dir: Path


def _exchange(url: str, body: bytes, when: datetime, status: int = 200) -> Exchange:
    return Exchange(url=url, method="GET", request_headers=(("User-Agent", "test"),),
                    status=status, reason="OK" if status == 200 else "Not Found",
                    http_version="HTTP/1.1", response_headers=(("Content-Type", "text/html"),),
                    body=body, truncated=False, fetched_at=when)


def _row(target_id: int, url: str, when: datetime, verdict: Verdict, status: int,
         record: ArchivedRecord | None, final_url: str | None = None) -> CheckRow:
    snap = None
    if record is not None:
        snap = SnapshotRow(fetched_at=when, url=url, warc_file=record.warc_file,
                           warc_offset=record.offset, warc_length=record.length,
                           payload_digest=record.payload_digest,
                           record_type=record.record_type, mime="text/html",
                           title="The cited page", text="What the article relied on.",
                           truncated=False)
    hops = (Hop(url, 301, final_url), Hop(final_url, status)) if final_url else (Hop(url, status),)
    return CheckRow(target_id, when, Observation(url=url, hops=hops),
                    Judgement(verdict, f"{verdict.value} because of the test"), snapshot=snap)


@pytest.fixture
def store(tmp_path: Path) -> Fixture:
    data_dir = tmp_path / "data"
    warc_dir, db_path = data_dir / "warcs", data_dir / "rotwatch.db"
    seed = tmp_path / "seeds" / "article.html"
    seed.parent.mkdir()
    anchors = {"dead": HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
               "failing": "a flaky source", "moved": "the moved page", "alive": "a healthy one"}
    body = "".join(f'<p>Context for {k}: <a href="{URLS[k]}">{anchors[k]}</a>.</p>' for k in URLS)
    seed.write_text(f"<html><head><title>An article</title></head><body>{body}</body></html>",
                    encoding="utf-8")
    with Store(db_path) as st:
        ingest_paths(st, [str(seed)], now=EARLY, max_seed_bytes=1_000_000)
        ids = {k: st.db.conn.execute("SELECT id FROM targets WHERE url = ?", [u]).fetchone()[0]
               for k, u in URLS.items()}
        with SnapshotWriter(warc_dir) as writer:
            alive_rec = writer.write(_exchange(URLS["alive"], BODY, EARLY))
            dead_ok = writer.write(_exchange(URLS["dead"], b"<p>it said this</p>", EARLY))
            dead_404 = writer.write(_exchange(URLS["dead"], b"not found", NOW, 404))
            # Same payload as the alive page: written as a revisit of it.
            moved_rec = writer.write(_exchange(URLS["moved"], BODY, NOW))
        assert moved_rec.record_type == "revisit"
        rows = [
            _row(ids["alive"], URLS["alive"], EARLY, Verdict.OK, 200, alive_rec),
            _row(ids["dead"], URLS["dead"], EARLY, Verdict.OK, 200, dead_ok),
            _row(ids["dead"], URLS["dead"], NOW, Verdict.BROKEN, 404, dead_404),
            _row(ids["failing"], URLS["failing"], NOW, Verdict.TIMEOUT, 0, None),
            _row(ids["moved"], URLS["moved"], NOW, Verdict.REDIRECTED, 200, moved_rec,
                 final_url="https://moved.example/new"),
        ]
        states = {"alive": ("alive", "ok", 0), "dead": ("dead", "broken", 4),
                  "failing": ("failing", "timeout", 1), "moved": ("moved", "redirected", 0)}
        updates = [TargetUpdate(ids[k], s, EARLY, v, n, EARLY if n else None,
                                NOW if n else None, EARLY, NOW, NOW + timedelta(days=1))
                   for k, (s, v, n) in states.items()]
        st.transaction(lambda: (st.insert_checks(rows, None), st.update_targets(updates)))
    return Fixture(data_dir, db_path, warc_dir)


def _report(fx: Fixture, **kw: object):
    with Store(fx.db_path) as st:
        return build_report(st, NOW, **kw)  # type: ignore[arg-type]


def test_report_lists_problem_links_dead_first(store: Fixture) -> None:
    rep = _report(store)
    assert [link.state for link in rep.links] == ["dead", "failing", "moved"]
    dead = rep.links[0]
    assert dead.anchor_text == HOSTILE and dead.status == 404 and dead.consecutive_failures == 4
    assert dead.reason == "broken because of the test" and dead.first_failure_at
    assert dead.snapshot is not None and dead.snapshot.fetched_at == EARLY.isoformat()
    assert rep.links[2].final_url == "https://moved.example/new"
    assert dict(rep.totals) == {"dead": 1, "failing": 1, "moved": 1, "alive": 1}
    assert [link.state for link in _report(store, states=["alive"]).links] == ["alive"]
    assert _report(store, seeds=["no-such-seed"]).links == ()


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_every_format_shows_problems_not_healthy_links(store: Fixture, fmt: str) -> None:
    text = RENDERERS[fmt](_report(store))
    for key in ("dead", "failing", "moved"):
        assert URLS[key] in text
    assert URLS["alive"] not in text


def test_html_escapes_hostile_anchor_text(store: Fixture) -> None:
    page = render_html(_report(store))
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_junit_counts_dead_and_failing_as_failures(store: Fixture) -> None:
    root = ET.fromstring(render_junit(_report(store)))
    cases = root.findall(".//testcase")
    assert len(cases) == 3 and root.get("failures") == "2"
    assert len(root.findall(".//testcase/failure")) == 2


def test_csv_and_json_parse_back(store: Fixture) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(_report(store)))))
    assert [r["target_url"] for r in rows] == [URLS["dead"], URLS["failing"], URLS["moved"]]
    assert rows[0]["anchor_text"] == HOSTILE and rows[0]["consecutive_failures"] == "4"
    data = json.loads(RENDERERS["json"](_report(store)))
    assert data["totals"]["dead"] == 1
    assert data["seeds"][0]["links"][0]["snapshot"]["record_type"] == "response"


def _warcio_check(path: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("warcio")
    cmd = [str(script), "check", str(path)] if script.exists() else [
        sys.executable, "-c", "import sys; from warcio.cli import main; main(sys.argv[1:])",
        "check", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_export_includes_latest_snapshots_and_revisit_originals(store: Fixture,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "export.warc.gz"
    with Store(store.db_path) as st:
        result = export_warc(st, store.warc_dir, out)
    assert result.problems == () and result.targets == 3 and result.originals == 0
    with open(out, "rb") as fh:
        records = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"))
                   for r in ArchiveIterator(fh)]
    assert records[0][0] == "warcinfo"
    assert sorted(records[1:]) == sorted([("response", URLS["alive"]),
                                          ("response", URLS["dead"]),
                                          ("revisit", URLS["moved"])])
    assert _warcio_check(out).returncode == 0
    # Since NOW: the moved page, whose revisit brings its original; the dead page's 404
    # is no good capture (an error page is never the copy to read).
    with Store(store.db_path) as st:
        only = export_warc(st, store.warc_dir, out, seeds=("article",), since=NOW)
    assert only.uris == (URLS["alive"], URLS["moved"]) and only.originals == 1
    assert _warcio_check(out).returncode == 0


def test_verify_passes_then_finds_corruption_and_missing_files(store: Fixture) -> None:
    with Store(store.db_path) as st:
        assert verify(st, store.warc_dir).ok
        first = st.db.conn.execute("SELECT warc_file, warc_offset, warc_length FROM snapshots "
                                   "ORDER BY id LIMIT 1").fetchone()
    path = store.warc_dir / first[0]
    data = bytearray(path.read_bytes())
    data[first[1] + first[2] // 2] ^= 0xFF  # a flipped byte in the middle of one record
    path.write_bytes(bytes(data))
    with Store(store.db_path) as st:
        found = verify(st, store.warc_dir)
        assert not found.ok and any(p.offset == first[1] for p in found.problems)
        path.unlink()
        gone = verify(st, store.warc_dir)
    assert any("missing" in p.message and p.warc_file == first[0] for p in gone.problems)


def test_commands_exit_codes(store: Fixture, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(store.data_dir)]
    html_out = tmp_path / "r.html"
    done = runner.invoke(cli, [*base, "report", "--format", "html", "--output", str(html_out)])
    assert done.exit_code == 2 and URLS["dead"] in html_out.read_text(encoding="utf-8")
    # --state chooses what is listed; the exit code is about every link of the seeds (#12)
    done = runner.invoke(cli, [*base, "report", "--state", "moved", "--format", "junit"])
    assert done.exit_code == 2 and URLS["moved"] in done.output
    done = runner.invoke(cli, [*base, "report", "--fail-on", "changed", "--format", "json"])
    assert done.exit_code == 0, done.output
    done = runner.invoke(cli, [*base, "export", "--output", str(tmp_path / "e.warc.gz")])
    assert done.exit_code == 0, done.output
    assert runner.invoke(cli, [*base, "verify"]).exit_code == 0
    (store.warc_dir / "rotwatch-x.warc.gz").write_bytes(b"garbage")
    done = runner.invoke(cli, [*base, "verify"])
    assert done.exit_code == 1 and "rotwatch-x.warc.gz" in done.output


def test_configured_report_writes_each_format(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from rotwatch.cli import cli

    config = tmp_path / "r.toml"
    config.write_text('[report]\ndirectory = "out"\nformats = ["html", "json", "junit"]\n')
    data = tmp_path / "data"
    seed = tmp_path / "s.md"
    seed.write_text("See [a](https://a.example/x).\n")
    runner = CliRunner()
    assert runner.invoke(cli, ["--data-dir", str(data), "ingest", str(seed)]).exit_code == 0
    result = runner.invoke(cli, ["--config", str(config), "--data-dir", str(data), "report",
                                 "--configured", "--state", "new"])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (data / "out").iterdir())
    assert written == ["rotwatch-report.html", "rotwatch-report.json", "rotwatch-report.xml"]
    assert "https://a.example/x" in (data / "out" / "rotwatch-report.html").read_text()
    config.write_text('[report]\nformats = ["pdf"]\n')
    bad = runner.invoke(cli, ["--config", str(config), "--data-dir", str(data), "report",
                              "--configured"])
    assert bad.exit_code == 1 and "unknown ['pdf']" in bad.output  # refused at load
