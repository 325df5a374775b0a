"""Proof that every route family of tests.mockserver behaves as its docstring says.

Everything here talks to the real server process through http.client, ssl and raw sockets,
so the tests of rotwatch itself can trust the server and blame only rotwatch.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import selectors
import socket
import ssl
import threading
import time
import uuid
import zlib
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.conftest import MockServer
from tests.mockserver import parse_hosts

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    reason: str
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    @property
    def title(self) -> str:
        match = re.search(r"<title>(.*?)</title>", self.text, re.S)
        return match.group(1) if match else ""


def fetch(
    url: str,
    method: str = "GET",
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
    context: ssl.SSLContext | None = None,
) -> Reply:
    """One request on a fresh connection, redirects NOT followed."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(method, target, body=body, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, response.reason, response.headers, response.read())
    finally:
        conn.close()


def follow(url: str, limit: int = 30) -> list[tuple[int, str]]:
    """Follow redirects by hand (bounded); returns (status, url) for every hop."""
    hops = []
    for _ in range(limit):
        reply = fetch(url)
        hops.append((reply.status, url))
        location = reply.headers.get("Location")
        if not 300 <= reply.status < 400 or location is None:
            return hops
        base = urlsplit(url)
        url = location if "://" in location else f"{base.scheme}://{base.netloc}{location}"
    raise AssertionError(f"more than {limit} hops: {hops[-3:]}")


def raw_exchange(url: str, timeout: float = 5.0) -> bytes:
    """Send a bare GET and read until EOF; connection errors propagate untouched."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------------------------
# Process and addresses
# --------------------------------------------------------------------------------------------


def test_ready_line_describes_every_listener(mockserver: MockServer) -> None:
    hosts = [urlsplit(h).hostname for h in mockserver.hosts]
    assert hosts == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert mockserver.soft404_hosts == [mockserver.host(3)]
    assert Path(mockserver.ca_file).is_file()
    assert mockserver.pid > 0
    assert mockserver.url("ok", host=2) == mockserver.host(2) + "/ok"
    assert mockserver.host("127.0.0.3") == mockserver.host(3)
    for name in ("tls", "bad_tls", "expired_tls", "wrong_host_tls"):
        assert mockserver.host(name).startswith("https://127.0.0.1:")
    assert mockserver.slow_robots_url("/x").startswith("http://127.0.0.1:")


def test_host_ranges_are_loopback_only() -> None:
    assert parse_hosts("127.0.0.2-5") == ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
    assert parse_hosts("127.0.0.1,127.0.0.9-127.0.0.10,127.0.0.1") == [
        "127.0.0.1",
        "127.0.0.9",
        "127.0.0.10",
    ]
    for bad in ("10.0.0.1", "192.168.1.1", "127.0.0.5-2", "nonsense"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_hosts(bad)


def test_server_exits_by_itself_after_max_seconds_and_on_stdin_close() -> None:
    with MockServer(hosts=["127.0.0.9"], tls=False, max_seconds=1.0, bomb_mb=0) as timed:
        assert fetch(timed.url("/ok")).status == 200
        assert timed.proc is not None
        assert timed.proc.wait(timeout=6) == 0
    with MockServer(hosts=["127.0.0.10"], tls=False, bomb_mb=0) as piped:
        assert piped.proc is not None and piped.proc.stdin is not None
        piped.proc.stdin.close()  # the parent "died": the server must notice and leave
        assert piped.proc.wait(timeout=6) == 0


# --------------------------------------------------------------------------------------------
# Content
# --------------------------------------------------------------------------------------------


def test_articles_are_deterministic_per_path(mockserver: MockServer) -> None:
    first = fetch(mockserver.url("/page/alpha"))
    assert first.status == 200
    assert first.headers["Content-Type"] == "text/html; charset=utf-8"
    assert first.title
    assert f"<h1>{first.title}</h1>" in first.text
    assert first.text.count("<p>") >= 3
    # Same path: same bytes, on any host and on any request; other path: other article.
    assert fetch(mockserver.url("/page/alpha", host=2)).body == first.body
    assert fetch(mockserver.url("/page/alpha")).body == first.body
    assert fetch(mockserver.url("/page/beta")).title != first.title
    for path in ("/ok", "/real/story", "/private/secret"):
        reply = fetch(mockserver.url(path))
        assert reply.status == 200 and "<article>" in reply.text, path
    home = fetch(mockserver.url("/"))
    assert home.status == 200 and "Home" in home.title


def test_chinese_pages_in_utf8_and_gbk(mockserver: MockServer) -> None:
    zh = fetch(mockserver.url("/zh/news"))
    assert zh.status == 200
    assert "charset=utf-8" in zh.headers["Content-Type"]
    assert re.search(r"[\u4e00-\u9fff]{4,}", zh.title)

    gbk = fetch(mockserver.url("/gbk"))
    assert gbk.headers["Content-Type"] == "text/html; charset=gbk"
    with pytest.raises(UnicodeDecodeError):
        gbk.body.decode("utf-8")  # really GBK bytes, not UTF-8 with a wrong label
    assert "<title>中文编码测试页面</title>" in gbk.body.decode("gbk")
    assert b"charset" not in gbk.body.lower()  # declared in the header only

    notfound = fetch(mockserver.url("/zh-notfound"))
    assert notfound.status == 200 and notfound.title == "页面不存在"


@pytest.mark.parametrize("code", [200, 201, 203, 301, 403, 404, 410, 418, 429, 451, 500, 503,
                                  599, 999])
def test_status_route_answers_that_status(mockserver: MockServer, code: int) -> None:
    reply = fetch(mockserver.url(f"/status/{code}"))
    assert reply.status == code
    assert str(code) in reply.title
    assert reply.headers.get("Location") is None  # /status/3xx is a redirect with no target
    assert fetch(mockserver.url(f"/status/{code}"), "HEAD").body == b""
    if code == 999:
        assert reply.reason == "Request denied"


def test_status_route_edge_cases(mockserver: MockServer) -> None:
    no_content = fetch(mockserver.url("/status/204"))
    assert no_content.status == 204 and no_content.body == b""
    for bad in ("100", "600", "abc"):
        assert fetch(mockserver.url(f"/status/{bad}")).status == 400


# --------------------------------------------------------------------------------------------
# Redirects
# --------------------------------------------------------------------------------------------


def test_redirect_chain_ends_at_ok(mockserver: MockServer) -> None:
    hops = follow(mockserver.url("/redirect/301/3"))
    assert [status for status, _ in hops] == [301, 301, 301, 200]
    assert hops[-1][1] == mockserver.url("/ok")
    assert fetch(mockserver.url("/redirect/307/0")).status == 200  # zero hops
    assert [s for s, _ in follow(mockserver.url("/redirect/308/1"))] == [308, 200]


def test_redirect_to_and_cross_host(mockserver: MockServer) -> None:
    target = mockserver.url("/page/moved", host=2)
    reply = fetch(mockserver.url(f"/redirect-to?url={quote(target, safe='')}&code=308"))
    assert reply.status == 308 and reply.headers["Location"] == target
    relative = fetch(mockserver.url("/redirect-to?url=/ok"))
    assert relative.status == 302 and relative.headers["Location"] == "/ok"
    # The server refuses to point clients off the machine.
    outside = quote("http://example.com/", safe="")
    assert fetch(mockserver.url(f"/redirect-to?url={outside}")).status == 400


def test_loop_chain_and_deep(mockserver: MockServer) -> None:
    a = fetch(mockserver.url("/loop/a"))
    b = fetch(mockserver.url("/loop/b"))
    assert (a.status, a.headers["Location"]) == (302, "/loop/b")
    assert (b.status, b.headers["Location"]) == (302, "/loop/a")

    hops = follow(mockserver.url("/chain/15"))
    assert len(hops) == 16 and hops[-1] == (200, mockserver.url("/ok"))
    assert {status for status, _ in hops[:-1]} == {301, 302, 303, 307, 308}
    first = fetch(mockserver.url("/chain/15"))
    assert first.headers["Location"] == mockserver.url("/chain/14")  # absolute URLs

    deep = fetch(mockserver.url("/deep/article/path"))
    assert (deep.status, deep.headers["Location"]) == (302, "/")
    assert "Home" in fetch(mockserver.url("/")).title


# --------------------------------------------------------------------------------------------
# Soft 404
# --------------------------------------------------------------------------------------------


def test_soft404_host_versus_honest_hosts(mockserver: MockServer) -> None:
    sorry = "Sorry, the page you requested could not be found"
    soft_a = fetch(mockserver.url("/no/such/page", host=3))
    soft_b = fetch(mockserver.url("/another-missing-thing", host=3))
    assert soft_a.status == soft_b.status == 200
    assert sorry in soft_a.text and soft_a.body == soft_b.body  # one generic page
    for host in (1, 2):
        assert fetch(mockserver.url("/no/such/page", host=host)).status == 404
    # Real articles on the soft-404 host are real, and the same as elsewhere.
    for path in ("/ok", "/page/x", "/real/y"):
        reply = fetch(mockserver.url(path, host=3))
        assert reply.status == 200 and sorry not in reply.text
        assert reply.body == fetch(mockserver.url(path, host=1)).body


# --------------------------------------------------------------------------------------------
# Timing and broken connections
# --------------------------------------------------------------------------------------------


def test_slow_route_delays_and_times_out(mockserver: MockServer) -> None:
    started = time.monotonic()
    assert fetch(mockserver.url("/slow?delay=0.6")).status == 200
    assert time.monotonic() - started >= 0.6
    with pytest.raises(TimeoutError):
        fetch(mockserver.url("/slow?delay=2"), timeout=0.3)


def test_drip_sends_headers_first_then_body_slowly(mockserver: MockServer) -> None:
    parts = urlsplit(mockserver.url("/drip?seconds=1&chunks=5"))
    assert parts.hostname is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        started = time.monotonic()
        conn.request("GET", f"{parts.path}?{parts.query}")
        response = conn.getresponse()
        headers_after = time.monotonic() - started
        body = response.read()
        body_after = time.monotonic() - started
    finally:
        conn.close()
    assert response.status == 200 and headers_after < 0.5
    assert body_after >= 0.8 and len(body) == int(response.headers["Content-Length"])


def test_drop_closes_without_response(mockserver: MockServer) -> None:
    assert raw_exchange(mockserver.url("/drop")) == b""  # clean EOF, zero bytes
    with pytest.raises(http.client.RemoteDisconnected):
        fetch(mockserver.url("/drop"))


def test_reset_sends_rst(mockserver: MockServer) -> None:
    with pytest.raises(ConnectionResetError):
        raw_exchange(mockserver.url("/reset"))
    with pytest.raises(ConnectionResetError):
        fetch(mockserver.url("/reset"))


# --------------------------------------------------------------------------------------------
# Size
# --------------------------------------------------------------------------------------------


def test_gzip_bomb_ratio(mockserver: MockServer) -> None:
    reply = fetch(mockserver.url("/gzip-bomb"), timeout=30)
    assert reply.status == 200 and reply.headers["Content-Encoding"] == "gzip"
    assert 100_000 < len(reply.body) < 1_000_000
    # Inflate in bounded steps, as a careful client would, counting instead of keeping.
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    inflated, pending = 0, reply.body
    while pending:
        inflated += len(inflater.decompress(pending, 8 * 1024 * 1024))
        pending = inflater.unconsumed_tail
    assert inflated >= 200 * 1024 * 1024
    assert inflated / len(reply.body) > 500


def test_big_body_is_exact_and_capped(mockserver: MockServer) -> None:
    reply = fetch(mockserver.url("/big?mb=2"))
    assert len(reply.body) == 2 * 1024 * 1024 == int(reply.headers["Content-Length"])
    assert reply.body.startswith(b"<!DOCTYPE html>")
    capped = fetch(mockserver.url("/big?mb=1000"), "HEAD")
    assert int(capped.headers["Content-Length"]) == 100 * 1024 * 1024


# --------------------------------------------------------------------------------------------
# Retries
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [429, 503])
def test_retry_after_counts_per_key(mockserver: MockServer, code: int) -> None:
    key = unique("ra")
    url = mockserver.url(f"/retry-after/{code}?key={key}&times=2&after=7")
    replies = [fetch(url) for _ in range(4)]
    assert [r.status for r in replies] == [code, code, 200, 200]
    assert [r.headers.get("Retry-After") for r in replies] == ["7", "7", None, None]
    # Another key has its own count.
    other = mockserver.url(f"/retry-after/{code}?key={unique('ra')}&times=1&after=1")
    assert fetch(other).status == code


def test_flaky_fails_then_recovers(mockserver: MockServer) -> None:
    url = mockserver.url(f"/flaky?key={unique('flaky')}&times=2")
    assert [fetch(url).status for _ in range(3)] == [500, 500, 200]


# --------------------------------------------------------------------------------------------
# Robots and blocking
# --------------------------------------------------------------------------------------------


def test_robots_and_private_pages(mockserver: MockServer) -> None:
    robots = fetch(mockserver.url("/robots.txt", host=2))
    assert robots.headers["Content-Type"].startswith("text/plain")
    assert robots.text.splitlines() == ["User-agent: *", "Disallow: /private/"]
    mockserver.clear_log(2)
    assert fetch(mockserver.url("/private/report", host=2)).status == 200
    assert "/private/report" in mockserver.paths(2)  # a test can tell it was fetched


def test_slow_robots_listener_delays_only_robots(mockserver: MockServer) -> None:
    timings: dict[str, float] = {}

    def get_robots() -> None:
        started = time.monotonic()
        assert fetch(mockserver.slow_robots_url("/robots.txt")).status == 200
        timings["robots"] = time.monotonic() - started

    worker = threading.Thread(target=get_robots)
    worker.start()
    started = time.monotonic()
    assert fetch(mockserver.slow_robots_url("/ok")).status == 200
    timings["ok"] = time.monotonic() - started
    worker.join(10)
    assert timings["ok"] < 1.0 <= 1.5 <= timings["robots"]


def test_challenge_pages(mockserver: MockServer) -> None:
    challenge = fetch(mockserver.url("/challenge"))
    assert challenge.status == 403
    assert challenge.headers["cf-mitigated"] == "challenge"
    assert challenge.headers["Server"] == "cloudflare"
    assert challenge.title == "Just a moment..."
    wall = fetch(mockserver.url("/challenge-200"))
    assert wall.status == 200 and "captcha" in wall.text.lower()


# --------------------------------------------------------------------------------------------
# Mutable pages
# --------------------------------------------------------------------------------------------


def test_mutable_pages_change_between_crawls(mockserver: MockServer) -> None:
    name = unique("drift")
    assert fetch(mockserver.url(f"/mutable/{name}")).status == 404
    url = mockserver.set_page(name, "<html><title>v1</title></html>")
    assert url == mockserver.url(f"/mutable/{name}")
    assert fetch(url).title == "v1"
    mockserver.set_page(name, "<html><title>gone</title></html>", status=410)
    gone = fetch(url)
    assert (gone.status, gone.title) == (410, "gone")
    assert fetch(mockserver.url(f"/mutable/{name}", host=2)).status == 404  # per host
    plain = mockserver.set_page(unique("txt"), "just text", content_type="text/plain")
    assert fetch(plain).headers["Content-Type"] == "text/plain"


# --------------------------------------------------------------------------------------------
# Benchmark routes
# --------------------------------------------------------------------------------------------


def test_bench_status_delay_and_redirect(mockserver: MockServer) -> None:
    started = time.monotonic()
    ok = fetch(mockserver.url("/bench/200/7?delay_ms=150"))
    assert ok.status == 200 and ok.title == "Bench 7"
    assert time.monotonic() - started >= 0.15
    moved = fetch(mockserver.url("/bench/301/7"))
    assert (moved.status, moved.headers["Location"]) == (301, "/bench/200/7-moved")
    assert fetch(mockserver.url("/bench/302/8")).headers["Location"] == "/bench/200/8-moved"
    assert fetch(mockserver.url("/bench/404/9")).status == 404


def test_bench_revision_changes_every_bench_page_until_reset(mockserver: MockServer) -> None:
    url = mockserver.url("/bench/200/rev-test?kb=2")
    before = fetch(url).body
    mockserver.set_bench_revision(3)
    try:
        changed = fetch(url).body
        other_host = fetch(mockserver.url("/bench/200/rev-test?kb=2", host=2)).body
    finally:
        mockserver.set_bench_revision(0)
    assert changed != before and b"Revision 3" in changed and b"Revision 3" in other_host
    assert fetch(url).body == before


def test_bench_handles_hundreds_of_concurrent_connections(mockserver: MockServer) -> None:
    host, port = urlsplit(mockserver.host(2)).netloc.split(":")
    count, delay_ms = 200, 300
    selector = selectors.DefaultSelector()
    socks: dict[int, socket.socket] = {}
    replies: dict[int, bytearray] = {}
    started = time.monotonic()
    try:
        for i in range(count):
            sock = socks[i] = socket.create_connection((host, int(port)), timeout=5)
            request = (f"GET /bench/200/c{i}?delay_ms={delay_ms} HTTP/1.1\r\nHost: {host}\r\n"
                       "Connection: close\r\n\r\n")
            sock.sendall(request.encode())
            sock.setblocking(False)
            replies[i] = bytearray()
            selector.register(sock, selectors.EVENT_READ, i)
        deadline = started + 15
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=1):
                data = socks[key.data].recv(65536)
                if data:
                    replies[key.data] += data
                else:
                    selector.unregister(socks[key.data])
    finally:
        selector.close()
        for sock in socks.values():
            sock.close()
    elapsed = time.monotonic() - started
    assert sum(r.startswith(b"HTTP/1.1 200 ") for r in replies.values()) == count
    # Served one after another this would take count * delay = 60 s.
    assert elapsed < 10


def test_keep_alive_reuses_one_connection(mockserver: MockServer) -> None:
    parts = urlsplit(mockserver.host(1))
    assert parts.hostname is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        sockets = []
        for path in ("/ok", "/status/404", "/bench/200/k", "/robots.txt"):
            conn.request("GET", path)
            conn.getresponse().read()
            sockets.append(conn.sock)
        assert sockets[0] is not None and all(s is sockets[0] for s in sockets)
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# Request log
# --------------------------------------------------------------------------------------------


def test_log_records_and_clears(mockserver: MockServer) -> None:
    mockserver.clear_log(2)
    assert mockserver.log(2) == []
    fetch(mockserver.url("/page/logged", host=2), headers={"User-Agent": "rotwatch-test/1"})
    fetch(mockserver.url("/status/418", host=2), "HEAD")
    fetch(mockserver.url("/page/other-host", host=1))
    entries = mockserver.log(2)
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/page/logged", 200),
        ("HEAD", "/status/418", 418),
    ]
    assert entries[0]["user_agent"] == "rotwatch-test/1"
    assert entries[0]["headers"]["User-Agent"] == "rotwatch-test/1"
    assert isinstance(entries[0]["time"], float)
    assert not any(e["path"].startswith("/_") for e in mockserver.log(2))  # /_log never logged
    # ?clear=1 hands back what it clears, in one step.
    taken = json.loads(fetch(mockserver.url("/_log?clear=1", host=2)).body)
    assert len(taken) == 2 and mockserver.log(2) == []


def test_reset_forgets_counters(mockserver: MockServer) -> None:
    key = unique("reset")
    url = mockserver.url(f"/flaky?key={key}&times=1", host=2)
    assert [fetch(url).status for _ in range(2)] == [500, 200]
    mockserver.reset(2)
    assert fetch(url).status == 500


# --------------------------------------------------------------------------------------------
# TLS
# --------------------------------------------------------------------------------------------


def test_tls_good_certificate_verifies_with_test_ca(mockserver: MockServer) -> None:
    context = ssl.create_default_context(cafile=mockserver.ca_file)
    reply = fetch(mockserver.tls_url("/ok"), context=context)
    assert reply.status == 200 and "<article>" in reply.text
    # Without the CA the same listener is untrusted (a client context that trusts nothing).
    with pytest.raises(ssl.SSLCertVerificationError):
        fetch(mockserver.tls_url("/ok"), context=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))


def test_tls_ssl_cert_file_points_at_the_ca(
    mockserver: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The way tests of rotwatch trust the CA: OpenSSL reads this when default paths load.
    monkeypatch.setenv("SSL_CERT_FILE", mockserver.ca_file)
    assert fetch(mockserver.tls_url("/ok"), context=ssl.create_default_context()).status == 200


@pytest.mark.parametrize(
    ("listener", "reason"),
    [
        ("bad_tls", "self"),  # "self-signed certificate" (OpenSSL 3) / "self signed" (1.1)
        ("expired_tls", "expired"),
        ("wrong_host_tls", "mismatch"),
    ],
)
def test_tls_bad_certificates_fail_verification(
    mockserver: MockServer, listener: str, reason: str
) -> None:
    context = ssl.create_default_context(cafile=mockserver.ca_file)
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        fetch(mockserver.url("/ok", listener), context=context)
    assert reason in caught.value.verify_message.lower()
    # The listener itself works: unverified, it serves the same routes.
    insecure = ssl._create_unverified_context()
    assert fetch(mockserver.url("/ok", listener), context=insecure).status == 200



def test_validators_modes(mockserver: MockServer) -> None:
    url = mockserver.url("/page/validators?validators=on")
    first = fetch(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert first.status == 200 and etag and modified
    assert fetch(url, headers={"If-None-Match": etag}).status == 304
    assert fetch(url, headers={"If-None-Match": '"other"'}).status == 200
    assert fetch(url, headers={"If-Modified-Since": modified}).body == b""
    assert fetch(url, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
                 ).status == 200
    ignore = mockserver.url("/page/validators?validators=ignore")
    assert fetch(ignore, headers={"If-None-Match": etag}).status == 200
    lie = mockserver.url("/page/validators?validators=lie")
    assert fetch(lie).status == 304  # no validators sent, and still "not modified"
    assert "ETag" not in fetch(mockserver.url("/page/validators")).headers  # off by default
