"""Snapshots made by real crawls: dedup across runs, drift, and a crawl killed mid-write."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import MockServer
from tests.helpers import REPO_ROOT, query, rotwatch, write_config

ARTICLE = """<html><head><title>{title}</title></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>{title}</h1>{paragraphs}</article>
<aside>Advertisement: {ad}</aside><footer>Updated {date}</footer></body></html>"""


def _page(title: str, sentences: list[str], ad: str = "buy now", date: str = "Monday") -> str:
    paragraphs = "".join(f"<p>{s}</p>" for s in sentences)
    return ARTICLE.format(title=title, paragraphs=paragraphs, ad=ad, date=date)


ORIGINAL = [f"The river authority said on day {i} that the levee held against the flood, "
            f"and engineers inspected section {i} of the embankment before nightfall."
            for i in range(12)]
REWRITTEN = [f"A festival of lanterns opened in the old town on evening {i}, where "
             f"musicians and cooks filled square number {i} with songs and dumplings."
             for i in range(12)]


def test_revisits_and_drift_across_runs(mockserver: MockServer, tmp_path: Path) -> None:
    name = f"drift-{tmp_path.name}"
    url = mockserver.set_page(name, _page("Levee holds", ORIGINAL))
    seed = tmp_path / "seed.md"
    seed.write_text(f"See [the levee story]({url}).\n", encoding="utf-8")
    data, config = tmp_path / "data", write_config(tmp_path / "c.toml")
    assert rotwatch(data, "ingest", str(seed), config=config).returncode == 0
    assert rotwatch(data, "check", "--all", "--allow-private", config=config).returncode == 0
    # same article, new ad and date: archived as a revisit, not drifted
    mockserver.set_page(name, _page("Levee holds", ORIGINAL, ad="sale", date="Tuesday"))
    assert rotwatch(data, "check", "--all", "--allow-private", config=config).returncode == 0
    # unchanged bytes: a revisit record
    assert rotwatch(data, "check", "--all", "--allow-private", config=config).returncode == 0
    mockserver.set_page(name, _page("Lantern festival", REWRITTEN))
    assert rotwatch(data, "check", "--all", "--allow-private", config=config).returncode == 0
    rows = query(data, "SELECT c.similarity, c.drifted, s.record_type, c.content_hash "
                       "FROM checks c JOIN snapshots s ON s.id = c.snapshot_id ORDER BY c.id")
    assert [r[2] for r in rows] == ["response", "response", "revisit", "response"]
    assert rows[0][1] is None  # the first snapshot is the baseline
    # the baseline's text is extracted when this capture differs from it (its own check,
    # recorded before, keeps no fingerprint: docs/drift.md)
    assert rows[1][1] == 0 and rows[1][0] > 0.9 and rows[1][3] and rows[0][3] is None
    assert rows[3][1] == 1 and rows[3][0] < 0.5
    assert query(data, "SELECT state FROM targets")[0][0] == "changed"
    # the rewritten page's main text is stored with its snapshot
    found = query(data, "SELECT count(*) FROM snapshots WHERE text LIKE '%lanterns%'")
    assert found[0][0] == 1


def test_crawl_killed_mid_write_is_recovered(mockserver: MockServer, tmp_path: Path) -> None:
    urls = [mockserver.url(f"/slow?delay=2&n={i}", host=1 + i % 3) for i in range(30)]
    urls += [mockserver.url(f"/page/kill-{i}", host=1 + i % 3) for i in range(30)]
    seed = tmp_path / "seed.md"
    seed.write_text("\n".join(f"- [{i}]({u})" for i, u in enumerate(urls)) + "\n")
    data = tmp_path / "data"
    # one crawl process, so SIGKILL hits the process that is writing
    config = write_config(tmp_path / "c.toml", batch_size=5, concurrency_per_host=1,
                          processes=1)
    assert rotwatch(data, "ingest", str(seed), config=config).returncode == 0
    child = subprocess.Popen(
        [sys.executable, "-m", "rotwatch", "--data-dir", str(data), "--config", str(config),
         "check", "--allow-private"], cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    seen: list[tuple[float, int, int]] = []
    try:
        while time.monotonic() < deadline:
            recorded = query(data, "SELECT count(*) FROM checks")[0][0] if (
                data / "rotwatch.db").exists() else 0
            open_files = list((data / "warcs").glob("*.open"))
            seen.append((round(time.monotonic(), 1), recorded, len(open_files)))
            if recorded >= 10 and open_files:
                break
            assert child.poll() is None, f"crawl ended before the kill: {seen[-40:]}"
            time.sleep(0.1)
        assert child.poll() is None, "crawl still not mid-write after 60 s"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    before = query(data, "SELECT count(*) FROM checks")[0][0]
    assert 10 <= before < len(urls), seen[-30:]
    assert list((data / "warcs").glob("*.open"))  # the crash left a file mid-write
    again = rotwatch(data, "check", "--allow-private", config=config)
    assert again.returncode == 0, again.stderr
    assert not list((data / "warcs").glob("*.open"))
    warcio = Path(sys.executable).parent / "warcio"
    for path in (data / "warcs").glob("*.warc.gz"):
        checked = subprocess.run([str(warcio), "check", str(path)], capture_output=True,
                                 text=True, timeout=120)
        assert checked.returncode == 0, checked.stdout
    # nothing committed was lost; every target now has a check
    assert query(data, "SELECT count(*) FROM checks")[0][0] >= before
    assert query(data, "SELECT count(*) FROM targets t WHERE NOT EXISTS "
                       "(SELECT 1 FROM checks c WHERE c.target_id = t.id)")[0][0] == 0
    runs = query(data, "SELECT status FROM runs ORDER BY id")
    assert runs[0][0] == "interrupted" and runs[-1][0] == "ok"


def test_ctrl_c_stops_every_crawl_process_cleanly(mockserver: MockServer, tmp_path: Path
                                                  ) -> None:
    import os

    urls = [mockserver.url(f"/slow?delay=2&ctrlc={i}", host=1 + i % 3) for i in range(24)]
    seed = tmp_path / "seed.md"
    seed.write_text("\n".join(f"- [{i}]({u})" for i, u in enumerate(urls)) + "\n")
    data = tmp_path / "data"
    # few in flight: a graceful stop lets the downloader finish what it holds
    config = write_config(tmp_path / "c.toml", batch_size=2, concurrency_per_host=1,
                          concurrency_total=4, processes=2)
    assert rotwatch(data, "ingest", str(seed), config=config).returncode == 0
    child = subprocess.Popen(
        [sys.executable, "-m", "rotwatch", "--data-dir", str(data), "--config", str(config),
         "check", "--allow-private"], cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            db = data / "rotwatch.db"
            if db.exists() and query(data, "SELECT count(*) FROM checks")[0][0] >= 2:
                break
            time.sleep(0.1)
        os.killpg(child.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode in (0, 2), err[-2000:]  # a clean end, not a crash
    assert "checked " in out
    assert not list((data / "warcs").glob("*.open"))  # every WARC closed properly
    run = query(data, "SELECT status, ended_at FROM runs ORDER BY id DESC LIMIT 1")[0]
    assert run[0] == "ok" and run[1] is not None
    recorded = query(data, "SELECT count(*) FROM checks")[0][0]
    assert 2 <= recorded < len(urls)  # stopped early, and kept what it had
