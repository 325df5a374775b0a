"""A second vantage without a fleet: a forward proxy on another network, and the end state.

A host of the mock server refuses this machine's usual source address (127.0.0.1) and
serves any other. A tiny forward proxy written here (stdlib http.server, connecting out
from 127.0.0.7) is `[cluster] confirm_proxy`: the failures of a local check are held,
checked again through it, and the links that work there are regional (`blocked`), never
failing, not even between the crawl and the confirmation. The proxy can hold its first
request: the test then reads the store at that moment (the crawl done, the confirmation
not), and may SIGKILL the check there.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from archive.warc.reader import read_response
from rotwatch.config import ConfigError, load_config
from tests.conftest import MockServer
from tests.fleet_setup import seed
from tests.helpers import REPO_ROOT, query, rotwatch, write_config

PROXY_ADDRESS = "127.0.0.7"  # the proxy's own network: what the refusing host serves
REFUSING_HOST = 9  # 127.0.0.10 refuses 127.0.0.1
CRAWL = {"retry_times": 0, "soft404_probe": False}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization",
              "te", "trailer", "transfer-encoding", "upgrade"}


class ForwardProxy(ThreadingHTTPServer):
    """Forwards absolute-URI GETs to loopback targets, from PROXY_ADDRESS; counts them."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__((PROXY_ADDRESS, 0), _Forward)
        self.forwarded: list[str] = []
        self.arrived = threading.Event()  # a request came (the confirmation began)
        self.gate = threading.Event()  # requests wait for it
        self.gate.set()

    @property
    def url(self) -> str:
        return f"http://{PROXY_ADDRESS}:{self.server_address[1]}"


class _Forward(BaseHTTPRequestHandler):
    server: ForwardProxy

    def do_GET(self) -> None:
        self.server.arrived.set()
        self.server.gate.wait(120)  # bounded: a failed test must not hang the server
        target = urlsplit(self.path)
        if target.scheme != "http" or not target.hostname \
                or not target.hostname.startswith("127."):
            self.send_error(403, "this test proxy forwards to loopback only")
            return
        self.server.forwarded.append(self.path)
        upstream = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=10,
                                              source_address=(PROXY_ADDRESS, 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        path = target.path or "/"
        try:
            upstream.request("GET", path + (f"?{target.query}" if target.query else ""),
                             headers=headers)
            answer = upstream.getresponse()
            body = answer.read()
        except OSError as exc:
            self.send_error(502, f"upstream: {exc}")
            return
        finally:
            upstream.close()
        self.send_response(answer.status, answer.reason)
        for key, value in answer.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(hosts=["127.0.0.2-10"], tls=False, bomb_mb=0,
                    extra_args=["--refuse", "127.0.0.10=127.0.0.1"]) as server:
        yield server


@pytest.fixture()
def proxy() -> Iterator[ForwardProxy]:
    server = ForwardProxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def start_check(data: Path, cfg: Path) -> subprocess.Popen[str]:
    """`rotwatch check` in a process group of its own (to SIGKILL it with its children)."""
    return subprocess.Popen(
        [sys.executable, "-m", "rotwatch", "--data-dir", str(data), "--config", str(cfg),
         "check", "--allow-private"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, text=True, cwd=REPO_ROOT, start_new_session=True)


def wait_for_confirmation(proxy: ForwardProxy, check: subprocess.Popen[str]) -> None:
    """Until the confirming crawl's first request reaches the proxy (the crawl is over)."""
    while not proxy.arrived.wait(0.5):
        assert check.poll() is None, f"the check ended unconfirmed: {check.communicate()}"


def held_urls(data: Path) -> list[str]:
    return [u for (u,) in query(data, "SELECT t.url FROM pending_checks p JOIN targets t ON "
                                      "t.id = p.target_id ORDER BY t.url")]


def history(data: Path, url: str) -> list[tuple[str, str | None, str]]:
    return query(data, "SELECT verdict, vantage, reason FROM checks c JOIN targets t ON "
                       "t.id = c.target_id WHERE t.url = ? ORDER BY c.checked_at, c.id", url)


@dataclass(frozen=True)
class Links:
    data: Path
    config: Path
    regional: list[str]  # refused from this machine, served through the proxy
    healthy: str
    dead: str  # nothing listens there, nor through the proxy
    broken: str  # a 301 to a 404 from both: a held check with its WARC captures

    @property
    def held(self) -> list[str]:
        return sorted([*self.regional, self.dead, self.broken])


def setup(mock: MockServer, proxy: ForwardProxy, tmp_path: Path, processes: int = 1) -> Links:
    links = Links(tmp_path / "data",
                  write_config(tmp_path / "p.toml", **CRAWL, processes=processes),
                  [mock.url(f"/page/p{i}", host=REFUSING_HOST) for i in range(2)],
                  mock.url("/ok", host=1), "http://127.0.0.1:1/dead",
                  mock.url("/redirect-to?code=301&url=/status/404", host=2))
    with links.config.open("a", encoding="utf-8") as out:
        # dead_after_failures = 1: the first check alone would make a link dead
        out.write(f'\n[cluster]\nconfirm_proxy = "{proxy.url}"\n'
                  '\n[policy]\ndead_after_failures = 1\ndead_after_span = 0\n')
    urls = [*links.regional, links.healthy, links.dead, links.broken]
    assert rotwatch(links.data, "ingest", str(seed(tmp_path / "s.md", urls)),
                    config=links.config).returncode == 0
    return links


def assert_held_not_failing(links: Links) -> None:
    """The crawl is done, its confirmation is not: the possible failures are held, and
    nothing in the store shows them failing (or dead, or checked at all)."""
    data = links.data
    assert held_urls(data) == links.held
    for url in links.held:
        assert history(data, url) == []
        assert query(data, "SELECT state, consecutive_failures FROM targets WHERE url = ?",
                     url) == [("new", 0)]
    assert query(data, "SELECT count(*) FROM problem_links_by_article") == [(0,)]
    assert [v for v, _, _ in history(data, links.healthy)] == ["ok"]  # recorded as it came


def assert_confirmed(links: Links, proxy: ForwardProxy, run_id: int) -> None:
    data = links.data
    label = f"proxy {PROXY_ADDRESS}:{proxy.server_address[1]}"
    for url in links.regional:
        seen = history(data, url)
        # as a fleet records it: the other vantage's ok, then this vantage's check turned
        # regional; the failure itself never counts
        assert [(v, where) for v, where, _ in seen] == [
            ("ok", label), ("blocked", "this machine")], seen
        assert seen[1][2].startswith("regional: connection-failed from this machine")
        assert seen[1][2].endswith(f"; ok from {label}")
        assert query(data, "SELECT state FROM targets WHERE url = ?", url) == [("blocked",)]
    # failing from both: one check, this vantage's, naming the other's (a fleet's way)
    for url, verdict in ((links.dead, "connection-failed"), (links.broken, "broken")):
        seen = history(data, url)
        assert [(v, where) for v, where, _ in seen] == [(verdict, "this machine")], seen
        assert f"(also {verdict if url == links.broken else 'server-error'} from {label})" \
            in seen[0][2], seen
        assert query(data, "SELECT state FROM targets WHERE url = ?", url) == [("dead",)]
    # the held check kept its captures: the 301 and the 404 it judged, both read back
    snapshots = query(data, "SELECT s.id, s.capture, s.warc_file, s.warc_offset, s.status "
                            "FROM snapshots s JOIN targets t ON t.id = s.target_id WHERE "
                            "t.url = ? ORDER BY s.id", links.broken)
    assert [(capture, status) for _, capture, _, _, status in snapshots] == [
        ("attempt", 301), ("result", 404)], snapshots
    for _, _, warc_file, offset, status in snapshots:
        assert read_response(data / "warcs", warc_file, offset).status == status
    assert query(data, "SELECT c.snapshot_id FROM checks c JOIN targets t ON "
                       "t.id = c.target_id WHERE t.url = ?", links.broken) == [
        (snapshots[1][0],)]
    # every check of the held links belongs to the run that crawled them
    assert query(data, "SELECT DISTINCT c.run_id FROM checks c JOIN targets t ON "
                       "t.id = c.target_id WHERE t.url IN (?, ?, ?, ?)",
                 *links.held) == [(run_id,)]
    assert held_urls(data) == []


def test_a_proxy_on_another_network_confirms(mock: MockServer, proxy: ForwardProxy,
                                             tmp_path: Path) -> None:
    links = setup(mock, proxy, tmp_path)
    proxy.gate.clear()
    check = start_check(links.data, links.config)
    try:
        wait_for_confirmation(proxy, check)
        assert_held_not_failing(links)
    finally:
        proxy.gate.set()
        stdout, stderr = check.communicate(timeout=180)
    assert check.returncode == 2, stderr  # the dead links, not the regional ones
    # the run's counts as before: the regional links count as blocked, the others once
    assert "connection-failed=1" in stdout and "blocked=2" in stdout, stdout
    assert "broken=1" in stdout, stdout
    assert_confirmed(links, proxy, run_id=1)
    assert [v for v, _, _ in history(links.data, links.healthy)] == ["ok"]
    # only the failures went through the proxy (robots.txt of their host aside)
    pages = {url for url in proxy.forwarded if not url.endswith("/robots.txt")}
    assert pages == {*links.regional, links.dead, links.broken,
                     mock.url("/status/404", host=2)}, proxy.forwarded


@pytest.mark.parametrize("confirm_after", [True, False], ids=["confirmed", "settings-removed"])
def test_a_check_killed_before_confirming_loses_nothing(mock: MockServer, proxy: ForwardProxy,
                                                        tmp_path: Path,
                                                        confirm_after: bool) -> None:
    # two crawl processes in the confirmed case: each holds its own part of the failures
    links = setup(mock, proxy, tmp_path, processes=2 if confirm_after else 1)
    proxy.gate.clear()
    check = start_check(links.data, links.config)
    try:
        wait_for_confirmation(proxy, check)
        assert_held_not_failing(links)
        os.killpg(check.pid, signal.SIGKILL)  # the check and its confirming crawl
        check.communicate(timeout=60)
    finally:
        proxy.gate.set()
    assert check.returncode == -signal.SIGKILL
    assert held_urls(links.data) == links.held  # held through the kill
    if not confirm_after:  # the operator dropped the second vantage meanwhile
        text = links.config.read_text(encoding="utf-8")
        links.config.write_text(re.sub(r"\[cluster\]\nconfirm_proxy = .*\n", "", text),
                                encoding="utf-8")
    # the next run confirms them before anything else, as checks of the killed run
    again = rotwatch(links.data, "check", "--allow-private", config=links.config)
    assert again.returncode == 2, again.stderr  # the dead links need attention
    assert "run 1 ended before confirming 4 held checks" in again.stderr
    if confirm_after:
        assert_confirmed(links, proxy, run_id=1)
    else:  # recorded as they are: nothing lost, nothing confirmed
        for url in links.held:
            seen = [(v, where) for v, where, _ in history(links.data, url)]
            assert seen == [("broken" if url == links.broken else "connection-failed",
                             "this machine")], seen
        assert held_urls(links.data) == []
    assert query(links.data, "SELECT id, status FROM runs ORDER BY id") == [
        (1, "interrupted"), (2, "ok")]
    # the healthy link is not due again: not checked again
    assert [v for v, _, _ in history(links.data, links.healthy)] == ["ok"]


@pytest.mark.parametrize("value", ["socks5://127.0.0.1:1080", "http://proxy", "proxy:3128",
                                   "http://p:3128/path", "http://p:99999"])
def test_a_bad_confirm_proxy_is_one_clear_error(tmp_path: Path, value: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[cluster]\nconfirm_proxy = "{value}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape("[cluster] confirm_proxy: ")):
        load_config(path, tmp_path)
    done = rotwatch(tmp_path / "data", "status", config=path)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "confirm_proxy" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_good_confirm_proxy_loads(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[cluster]\nconfirm_proxy = "http://user:pw@192.0.2.8:3128"\n',
                    encoding="utf-8")
    assert load_config(path, tmp_path).cluster.confirm_proxy == "http://user:pw@192.0.2.8:3128"
