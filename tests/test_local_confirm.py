"""A second vantage without a fleet: a forward proxy on another network, and the end state.

A host of the mock server refuses this machine's usual source address (127.0.0.1) and
serves any other. A tiny forward proxy written here (stdlib http.server, connecting out
from 127.0.0.7) is `[cluster] confirm_proxy`: the failures of a local check are checked
again through it, and the links that work there are regional (`blocked`), not failing.
"""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from rotwatch.config import ConfigError, load_config
from tests.conftest import MockServer
from tests.helpers import query, rotwatch, write_config

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

    @property
    def url(self) -> str:
        return f"http://{PROXY_ADDRESS}:{self.server_address[1]}"


class _Forward(BaseHTTPRequestHandler):
    server: ForwardProxy

    def do_GET(self) -> None:
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


def seed(path: Path, urls: list[str]) -> Path:
    path.write_text("# Links\n\n" + "\n".join(f"- [l{i}]({u})" for i, u in enumerate(urls))
                    + "\n", encoding="utf-8")
    return path


def history(data: Path, url: str) -> list[tuple[str, str | None, str]]:
    return query(data, "SELECT verdict, vantage, reason FROM checks c JOIN targets t ON "
                       "t.id = c.target_id WHERE t.url = ? ORDER BY c.checked_at, c.id", url)


def test_a_proxy_on_another_network_confirms(mock: MockServer, proxy: ForwardProxy,
                                             tmp_path: Path) -> None:
    regional = [mock.url(f"/page/p{i}", host=REFUSING_HOST) for i in range(2)]
    healthy = mock.url("/ok", host=1)
    dead = "http://127.0.0.1:1/dead"  # nothing listens there, nor through the proxy
    data = tmp_path / "data"
    cfg = write_config(tmp_path / "p.toml", **CRAWL)
    with cfg.open("a", encoding="utf-8") as out:
        # dead_after_failures = 1: the first check alone would make a link dead
        out.write(f'\n[cluster]\nconfirm_proxy = "{proxy.url}"\n'
                  '\n[policy]\ndead_after_failures = 1\ndead_after_span = 0\n')
    assert rotwatch(data, "ingest", str(seed(tmp_path / "s.md", [*regional, healthy, dead])),
                    config=cfg).returncode == 0
    checked = rotwatch(data, "check", "--allow-private", config=cfg)
    assert checked.returncode == 2, checked.stderr  # the dead link, not the regional ones
    assert "connection-failed=1" in checked.stdout and "blocked=2" in checked.stdout
    label = f"proxy {PROXY_ADDRESS}:{proxy.server_address[1]}"
    for url in regional:
        seen = history(data, url)
        assert [(v, where) for v, where, _ in seen] == [
            ("connection-failed", None), ("ok", label), ("blocked", "this machine")], seen
        assert seen[2][2].startswith("regional: connection-failed from this machine")
        assert seen[2][2].endswith(f"; ok from {label}")
        # the first check alone made it dead for a moment; the run ends with it blocked,
        # as a fleet's held result would (docs/deploy/fleet.md)
        assert query(data, "SELECT state FROM targets WHERE url = ?", url) == [("blocked",)]
    assert [v for v, _, _ in history(data, dead)] == ["connection-failed"]
    assert query(data, "SELECT state FROM targets WHERE url = ?", dead) == [("dead",)]
    assert [v for v, _, _ in history(data, healthy)] == ["ok"]
    # only the failures went through the proxy (robots.txt of their host aside)
    pages = sorted(url for url in proxy.forwarded if not url.endswith("/robots.txt"))
    assert pages == sorted([*regional, dead]), proxy.forwarded


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
