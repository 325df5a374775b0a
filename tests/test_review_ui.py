"""The review UI: `rotwatch ui` (Datasette) over a real store, driven by a real browser.

Chromium is Debian's (/usr/bin/chromium) driven by Playwright; no browser is downloaded.
Screenshots are kept in $ROTWATCH_ARTIFACTS (default: the test's temporary directory).
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from archive.store import Store
from core.records import Verdict
from rotwatch.ingest import ingest_paths
from tests.conftest import MockServer
from tests.helpers import REPO_ROOT, query, rotwatch, write_config
from tests.test_triage import DEAD, OTHER, T0, add_checks

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class UiServer:
    """`rotwatch ui --port 0` as a child process; `base` is the database's URL."""

    def __init__(self, data_dir: Path, config: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rotwatch", "--data-dir", str(data_dir), "--config",
             str(config), "ui", "--port", "0"], cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stderr is not None
        stderr = self.proc.stderr
        threading.Thread(target=lambda: lines.put(stderr.readline()), daemon=True).start()
        line = lines.get(timeout=60)
        found = re.search(r"(http://\S+/rotwatch)", line)
        if not found:
            self.stop()
            raise RuntimeError(f"rotwatch ui printed {line!r}")
        self.base = found.group(1)
        self.root = self.base.rsplit("/", 1)[0]

    def get_json(self, path: str) -> Any:
        with _DIRECT.open(self.root + path, timeout=30) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def _store(base: Path) -> tuple[Path, Path]:
    seeds = base / "seeds"
    seeds.mkdir()
    for name in ("alpha", "beta"):
        (seeds / f"{name}.html").write_text(
            f"<html><head><title>Article {name}</title></head><body><p>See "
            f'<a href="{DEAD}">the source</a> and <a href="{OTHER}">more</a>.</p></body></html>',
            encoding="utf-8")
    data = base / "data"
    with Store(data / "rotwatch.db") as st:
        ingest_paths(st, [str(seeds)], now=T0 - timedelta(days=10), max_seed_bytes=1_000_000)
    add_checks(data / "rotwatch.db", DEAD,
               [(T0 - timedelta(days=d), Verdict.BROKEN) for d in (3, 2, 1)], "dead")
    config = base / "rotwatch.toml"
    config.write_text('[review]\nreviewer = "Desk Editor"\n', encoding="utf-8")
    return data, config


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[UiServer, Path, Path]]:
    data, config = _store(tmp_path_factory.mktemp("review"))
    server = UiServer(data, config)
    try:
        yield server, data, config
    finally:
        server.stop()


def test_the_ui_serves_descriptions_views_and_canned_queries(served: Any) -> None:
    server, _, _ = served
    meta = server.get_json("/-/metadata.json")["databases"]["rotwatch"]
    assert meta["tables"]["triage_marks"]["columns"]["via"].startswith("cli (rotwatch triage)")
    assert meta["tables"]["targets"]["columns"]["state"].startswith("new, alive")
    opened = {d["name"]: d for d in server.get_json("/-/databases.json")}["rotwatch"]
    assert opened["is_mutable"], "the live store is never opened immutable"
    database = server.get_json("/rotwatch.json")
    views = {v["name"] for v in database["views"]}
    assert {"problem_links_by_article", "recently_died", "blocked_hosts",
            "changed_since_citation", "link_triage"} <= views
    queries = {q["name"]: q for q in database["queries"]}
    assert {"problem_links", "recently_died", "blocked_hosts", "changed_since_citation",
            "mark_link", "mark_history", "unmarked_dead_links"} <= set(queries)
    assert queries["mark_link"]["write"] and not queries["mark_history"].get("write")
    rows = server.get_json("/rotwatch/problem_links.json?_shape=array&article=alpha")
    assert [(r["link"], r["state"]) for r in rows] == [(DEAD, "dead")]
    died = server.get_json("/rotwatch/recently_died.json?_shape=array&days=100000")
    assert [r["link"] for r in died] == [DEAD]


def _artifacts(tmp_path: Path) -> Path:
    where = Path(os.environ.get("ROTWATCH_ARTIFACTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium at /usr/bin/chromium (.ci/run installs it)")
        pytest.skip("no /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def test_a_reviewer_marks_a_link_fixed_in_the_browser_and_the_report_shows_it(
        served: Any, browser: Any, tmp_path: Path) -> None:
    server, data, config = served
    shots = _artifacts(tmp_path)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.base + "/problem_links_by_article")
    assert DEAD in page.inner_text("table.rows-and-columns")
    page.screenshot(path=str(shots / "review-problem-links.png"), full_page=True)
    # A mark that makes no sense is refused with the reason, and nothing is recorded.
    page.goto(server.base + "/mark_link")
    page.fill("input[name=url]", DEAD)
    page.fill("input[name=mark]", "bogus")
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert "the mark must be fixed, ignored, replaced or cleared" in \
        page.inner_text(".message-error")
    assert query(data, "SELECT count(*) FROM triage_marks") == [(0,)]
    page.goto(server.base + "/mark_link")
    page.fill("input[name=url]", DEAD)
    page.fill("input[name=mark]", "fixed")
    page.fill("input[name=note]", "the ministry restored the page")
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert page.inner_text(".message-info").strip() == "Marked. The next report shows it."
    page.screenshot(path=str(shots / "review-marked.png"), full_page=True)
    page.goto(server.base + "/problem_links_by_article")
    assert "fixed" in page.inner_text("table.rows-and-columns")
    page.close()
    assert not errors, errors

    done = rotwatch(data, "report", "--format", "json", config=config)
    assert done.returncode == 0, done.stderr  # the only dead link is marked
    links = [link for seed in json.loads(done.stdout)["seeds"] for link in seed["links"]]
    marks = [link["triage"] for link in links if link["target_url"] == DEAD]
    assert len(marks) == 2 and all(m and m["in_effect"] for m in marks)
    assert (marks[0]["mark"], marks[0]["reviewer"], marks[0]["note"]) == (
        "fixed", "Desk Editor", "the ministry restored the page")
    assert query(data, "SELECT via FROM triage_marks") == [("ui",)]
    history = server.get_json("/rotwatch/mark_history.json?_shape=array&url="
                              + urllib.parse.quote(DEAD))
    assert [(h["mark"], h["reviewer"], h["via"]) for h in history] == [
        ("fixed", "Desk Editor", "ui")]


# ------------------------------------------------------------- a crawl beside the UI


def _post_mark(server: UiServer, url: str) -> str:
    """What the browser does: read the form (CSRF token and cookie), post it."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPCookieProcessor(jar))
    with opener.open(server.base + "/mark_link", timeout=30) as response:
        form = response.read().decode()
    token = re.search(r'name="csrftoken" value="([^"]+)"', form)
    assert token, form[:500]
    body = urllib.parse.urlencode({"url": url, "mark": "ignored", "replacement": "", "note":
                                   "during the crawl", "reviewer": "", "csrftoken":
                                   token.group(1)}).encode()
    with opener.open(server.base + "/mark_link", data=body, timeout=30) as response:
        return str(response.read().decode())


def test_a_running_crawl_and_the_ui_do_not_block_each_other(
        mockserver: MockServer, tmp_path: Path) -> None:
    n = 12
    seed = tmp_path / "seed.md"
    urls = [mockserver.url(f"/slow?delay=1&i={i}", host=1 + i % 3) for i in range(n)]
    seed.write_text("\n".join(f"- [l{i}]({u})" for i, u in enumerate(urls)) + "\n",
                    encoding="utf-8")
    data = tmp_path / "data"
    config = write_config(tmp_path / "rotwatch.toml", None, batch_size=1,
                          concurrency_per_host=1, processes=1)
    assert rotwatch(data, "ingest", str(seed), config=config).returncode == 0
    server = UiServer(data, config)
    try:
        crawl = subprocess.Popen(
            [sys.executable, "-m", "rotwatch", "--data-dir", str(data), "--config",
             str(config), "check", "--all", "--allow-private"], cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen: list[int] = []
        marked = ""
        while crawl.poll() is None:
            seen.append(server.get_json(
                "/rotwatch.json?sql=select+count(*)+as+n+from+checks&_shape=array")[0]["n"])
            if not marked and seen[-1] > 0 and crawl.poll() is None:
                marked = _post_mark(server, urls[0])
        _, err = crawl.communicate(timeout=120)
    finally:
        server.stop()
    assert crawl.returncode == 0, err
    assert "Marked." in marked, "the UI wrote a mark while the crawl was writing"
    assert any(0 < count < n for count in seen), "the UI read while the crawl was writing"
    assert query(data, "SELECT count(*) FROM checks") == [(n,)]  # nothing the crawl lost
    assert query(data, "SELECT mark, note, via FROM triage_marks") == [
        ("ignored", "during the crawl", "ui")]


@pytest.mark.parametrize(("args", "message"), [
    (["ui", "--host", "0.0.0.0"], "not a loopback address"),
    (["ui", "--port", "0"], "no store at"),
])
def test_ui_refuses_other_hosts_and_a_missing_store(tmp_path: Path, args: list[str],
                                                    message: str) -> None:
    from click.testing import CliRunner

    from rotwatch.cli import cli

    done = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "none"), *args])
    assert done.exit_code == 1 and message in done.output and "Traceback" not in done.output
