"""A real mock web server process for rotwatch's tests and benchmarks.

Run it by hand (from the repository root)::

    python -m tests.mockserver                      # 127.0.0.1-3, ephemeral ports, TLS on
    python -m tests.mockserver --port 8080          # every host on :8080
    python -m tests.mockserver --hosts 127.0.0.2-21 --delay-ms 50 --no-tls   # benchmark

When every listener is bound it prints ONE JSON line on stdout (base URLs, CA file, pid) and
serves until SIGTERM/SIGINT, until its stdin closes (only watched when stdin is a pipe, so a
hand-started or ``</dev/null`` server is not stopped by it), or until ``--max-seconds``.

Listeners ("hosts"), each with its own request log, counters and mutable pages:

* one plain HTTP listener per ``--hosts`` address (default 127.0.0.1, 127.0.0.2, 127.0.0.3);
  hosts listed in ``--soft404-hosts`` (default 127.0.0.3) answer unknown paths with 200;
* ``slow_robots``: HTTP on 127.0.0.1, whose /robots.txt is answered after ``--slow-robots`` s;
* ``tls``: HTTPS on 127.0.0.1, certificate signed by a CA generated at start (``ca_file``);
* ``bad_tls`` (self-signed), ``expired_tls`` (CA-signed, expired) and ``wrong_host_tls``
  (CA-signed, for another name): each must fail verification.

Routes (on every listener):

=====================================  ==================================================
``/``                                  home page
``/ok``, ``/page/*``, ``/real/*``      200 English article, deterministic per path
``/private/*``                         200 article (disallowed by robots.txt)
``/zh/*``                              200 Chinese article (UTF-8)
``/gbk``                               200 page in GBK, declared only in Content-Type
``/zh-notfound``                       200 whose title is 页面不存在
``/status/<code>``                     that status (200-599 or 999), small HTML body
``/redirect/<code>/<n>``               n redirects with that 3xx status, then /ok
``/redirect-to?url=U&code=C``          one redirect to U (relative or loopback only)
``/loop/a`` ↔ ``/loop/b``              302 loop
``/chain/<n>``                         n hops with absolute URLs and mixed 3xx, then /ok
``/deep/*``                            302 to /
``/slow?delay=S``                      article after S seconds (S ≤ 60, default 5)
``/drip?seconds=S&chunks=N``           headers at once, body in N pieces over S seconds
``/drop``                              closes the connection without any response
``/reset``                             closes with a TCP RST (SO_LINGER 0)
``/gzip-bomb``                         Content-Encoding: gzip, ~200 KB inflating to ~200 MB
``/br-bomb?mb=N``                      Content-Encoding: br, inflating to N MiB (default 200)
``/zstd-bomb?mb=N``                    Content-Encoding: zstd, the same
``/big?mb=N``                          N MiB HTML body, streamed (N ≤ 100, default 1)
``/retry-after/<code>?key&times&after``  ``code`` + Retry-After the first ``times``, then 200
``/flaky?key=K&times=T``               500 the first T times for key K, then 200
``/robots.txt``                        ``User-agent: *`` / ``Disallow: /private/``
``/challenge``                         403 Cloudflare-style "Just a moment...", cf-mitigated
``/challenge-200``                     200 captcha wall
``/watch?v=ID``                        video page; ids not starting "live" get 200 "not available"
``/mutable/<name>``                    what ``POST /_set/<name>`` stored (404 until then)
``/bench/<status>/<id>?delay_ms=D&kb=N``  page after D ms (N KiB of text); 3xx go to …/<id>-moved
``POST /_bench_rev?rev=N``               every /bench page changes a little (0: as before)
anything else                          honest 404, or 200 "Sorry..." on soft-404 hosts
=====================================  ==================================================

Validators (``--validators MODE``, or ``?validators=MODE`` on any request): every 200 answer
carries ``ETag`` (a hash of its body) and ``Last-Modified`` (the server's start). ``on``: a
matching ``If-None-Match`` (or, without it, an ``If-Modified-Since`` not before
``Last-Modified``) gets 304 with no body; ``ignore``: validators sent, conditions ignored;
``lie``: 304 to every request, conditional or not; ``off`` (the default): no validators.

Control routes (never logged, so they cannot disturb what a test counts):

* ``GET /_stats`` → ``{"requests", "inflight", "max_inflight"}``: the most requests this
  listener had at once, each from its arrival to the start of its answer (``POST /_reset``
  starts counting again).
* ``--refuse HOST=CLIENT``: host HOST closes every connection from source address CLIENT
  without an answer (one network blocked, another served).
* ``GET /_log`` → JSON list of the requests seen by this listener; ``?clear=1`` returns the
  list and empties it in one step.
* ``POST|PUT /_set/<name>`` body = page; optional ``X-Status`` header (default 200); the
  request's Content-Type is served back (default HTML). ``DELETE /_set/<name>`` removes it.
* ``POST /_reset`` → empties this listener's log, counters and mutable pages.

Only loopback addresses are ever bound or redirected to: rotwatch's tests must not leave the
machine, and a redirect to the outside would lead a client there.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import email.utils
import functools
import hashlib
import html
import ipaddress
import json
import os
import random
import shutil
import signal
import socket
import socketserver
import ssl
import stat
import struct
import sys
import tempfile
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

DEFAULT_HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
DEFAULT_SOFT404_HOSTS = ("127.0.0.3",)
MAX_DELAY_S = 60.0
MAX_BIG_MB = 100.0
MAX_REQUEST_BODY = 20 * 1024 * 1024
MAX_REDIRECT_HOPS = 100
LOG_LIMIT = 100_000  # per listener: a long benchmark must not grow memory without bound
MIB = 1024 * 1024

VALIDATOR_MODES = ("off", "on", "ignore", "lie")
ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"

# Headers a crawler test may want to assert on; the rest would only bloat the log.
LOGGED_HEADERS = (
    "Host",
    "User-Agent",
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Referer",
    "Cookie",
    "Range",
    "If-None-Match",
    "If-Modified-Since",
    "Connection",
    "Content-Type",
)

# Errors that only mean "the client went away or timed out": expected in tests of timeouts,
# drops and bad certificates, so they must not print tracebacks.
CLIENT_GONE: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    ssl.SSLError,
    BrokenPipeError,
)


class BadRequest(Exception):
    """A route argument could not be parsed: answered with 400."""


# --------------------------------------------------------------------------------------------
# Deterministic content
# --------------------------------------------------------------------------------------------

_WORDS_TEXT = (
    "archive river signal harbour lantern meadow quartz engine orbit canyon ledger violet "
    "compass granite whisper beacon timber falcon glacier pepper marble cobalt thunder saddle "
    "orchard velvet summit candle anchor prairie tunnel mirror cedar harvest puzzle rocket "
    "island shadow copper garden voyage kernel blossom bridge magnet silver winter forest "
    "letter window market station council report policy library museum village theatre"
)
_WORDS = tuple(_WORDS_TEXT.split())

_ZH_TEXT = (
    "城市图书馆 今天上午 宣布 新的 开放时间 市民 可以 在线 预约 阅览座位 "
    "研究人员 发现 河流 水质 明显 改善 政府 表示 将 继续 加大 投入 "
    "博物馆 推出 特别展览 展出 珍贵文物 吸引 大量 游客 前来 参观 "
    "科技公司 发布 最新 报告 显示 用户 数量 稳步 增长 专家 认为"
)
_ZH_PHRASES = tuple(_ZH_TEXT.split())


def _rng(path: str) -> random.Random:
    # Seeded from a digest (not hash()) so content is identical across runs and processes.
    digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _page(title: str, h1: str, paragraphs: Iterable[str], lang: str = "en") -> str:
    body = "\n".join(f"    <p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n  <meta charset="utf-8">\n'
        f"  <title>{html.escape(title)}</title>\n</head>\n<body>\n  <article>\n"
        f"    <h1>{html.escape(h1)}</h1>\n{body}\n  </article>\n</body>\n</html>\n"
    )


def article_html(path: str) -> str:
    """An English article that depends only on ``path`` (drift tests compare crawls)."""
    rng = _rng(path)
    title = " ".join(w.capitalize() for w in rng.sample(_WORDS, rng.randint(3, 6)))
    paragraphs = []
    for _ in range(4):
        sentences = []
        for _ in range(rng.randint(3, 5)):
            words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 16))]
            sentences.append(" ".join(words).capitalize() + ".")
        paragraphs.append(" ".join(sentences))
    return _page(title, title, paragraphs)


def zh_article_html(path: str) -> str:
    rng = _rng("zh:" + path)
    title = "".join(rng.sample(_ZH_PHRASES, 4))
    paragraphs = []
    for _ in range(4):
        clauses = [
            "".join(rng.choice(_ZH_PHRASES) for _ in range(rng.randint(4, 8))) for _ in range(3)
        ]
        paragraphs.append("，".join(clauses) + "。")
    return _page(title, title, paragraphs, lang="zh-CN")


GBK_TITLE = "中文编码测试页面"
# No <meta charset>: the only declaration is the Content-Type header, which is the point.
GBK_HTML = (
    f"<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head><title>{GBK_TITLE}</title></head>\n<body>\n"
    f"<h1>{GBK_TITLE}</h1>\n<p>这是一个使用国标扩展编码的网页，用来检查链接检查器能否正确解码。</p>\n"
    "<p>如果你看到乱码，说明解码器忽略了响应头里的字符集声明。</p>\n</body>\n</html>\n"
)

HOME_HTML = (
    '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>Mock News - Home'
    "</title></head>\n<body>\n<h1>Mock News</h1>\n<p>Welcome to the front page of Mock News, "
    "the test site of rotwatch.</p>\n<ul>\n"
    '<li><a href="/ok">Today\'s story</a></li>\n<li><a href="/page/first">First page</a></li>\n'
    '<li><a href="/zh/news">中文新闻</a></li>\n</ul>\n</body>\n</html>\n'
)

SOFT404_HTML = _page(
    "Page not found - Mock News",
    "Sorry, the page you requested could not be found",
    [
        "Sorry, the page you requested could not be found. It may have been moved or deleted.",
        "Try the search box or go back to the home page.",
    ],
)

NOT_FOUND_HTML = _page("404 Not Found", "Not Found", ["The requested URL was not found."])

ZH_NOTFOUND_HTML = _page(
    "页面不存在",
    "页面不存在",
    ["抱歉，您访问的页面不存在或已被删除。", "请返回首页继续浏览。"],
    "zh-CN",
)

CHALLENGE_HTML = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
    '<meta http-equiv="refresh" content="390"></head><body>'
    '<div class="main-wrapper" role="main"><h1>127.0.0.1</h1>'
    "<h2>Checking if the site connection is secure</h2>"
    "<noscript>Enable JavaScript and cookies to continue</noscript>"
    '<div id="challenge-stage"></div><script src="/cdn-cgi/challenge-platform/orchestrate/jsch/v1">'
    "</script></div></body></html>\n"
)

CAPTCHA_HTML = _page(
    "Attention Required! | Verify you are human",
    "Please verify you are a human",
    [
        "Please complete the security check to access this site.",
        "Why do I have to complete a CAPTCHA? Completing the CAPTCHA proves you are a human.",
    ],
).replace("</article>", '<div class="g-recaptcha" data-sitekey="mock"></div></article>')


def status_html(code: int, reason: str) -> str:
    return _page(f"{code} {reason}".strip(), f"{code} {reason}".strip(), [f"Status {code}."])


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


@dataclass
class MutablePage:
    status: int
    body: bytes
    content_type: str


@dataclass
class HostState:
    """Everything one listener ("host") remembers; separate hosts must not share it."""

    name: str
    soft404: bool = False
    robots_delay: float = 0.0
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_LIMIT))
    seq: int = 0
    counters: dict[tuple[str, str], int] = field(default_factory=dict)
    pages: dict[str, MutablePage] = field(default_factory=dict)
    # Requests being answered now, and the most ever at once (logged routes only).
    inflight: int = 0
    max_inflight: int = 0
    refused_clients: frozenset[str] = frozenset()

    def enter(self) -> None:
        with self.lock:
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)

    def leave(self) -> None:
        with self.lock:
            self.inflight -= 1

    def record(self, method: str, target: str, headers: Message) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": time.time(),
            "method": method,
            "path": target,
            "user_agent": headers.get("User-Agent"),
            "headers": {h: headers[h] for h in LOGGED_HEADERS if h in headers},
            "status": None,  # filled in when (and if) a status line is sent
        }
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.log.append(entry)
        return entry

    def snapshot(self, clear: bool) -> list[dict[str, Any]]:
        with self.lock:
            entries = [dict(e) for e in self.log]
            if clear:
                self.log.clear()
        return entries

    def bump(self, kind: str, key: str) -> int:
        """Count one more request for (kind, key) and return the new count (1 = first)."""
        with self.lock:
            n = self.counters.get((kind, key), 0) + 1
            self.counters[(kind, key)] = n
            return n

    def reset(self) -> None:
        with self.lock:
            self.max_inflight = self.inflight
            self.log.clear()
            self.counters.clear()
            self.pages.clear()


class BombCache:
    """The gzip bomb, compressed once in the background (≈1 s of CPU) and then reused."""

    def __init__(self, inflated_mb: int) -> None:
        self._inflated_mb = inflated_mb
        self._ready = threading.Event()
        self._data = b""

    def start(self) -> None:
        threading.Thread(target=self._build, name="gzip-bomb", daemon=True).start()

    def _build(self) -> None:
        comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31 = gzip container
        # Spaces rather than NULs: whatever inflates it sees valid (if empty) HTML text.
        block = b" " * MIB
        parts = [comp.compress(b"<!DOCTYPE html><html><head><title>Bomb</title></head><body>")]
        parts.extend(comp.compress(block) for _ in range(self._inflated_mb))
        parts.append(comp.compress(b"</body></html>\n"))
        parts.append(comp.flush())
        self._data = b"".join(parts)
        self._ready.set()

    def get(self, timeout: float = 60.0) -> bytes | None:
        return self._data if self._ready.wait(timeout) else None


MAX_CODED_BOMB_MB = 1024.0


@functools.lru_cache(maxsize=8)
def coded_bomb(coding: str, inflated_mb: int) -> bytes:
    """A br or zstd body inflating to `inflated_mb` MiB of spaces: a few KB, built in
    well under a second (brotli at quality 5, zstd at level 3), so it is made on demand."""
    block = b" " * MIB
    head = b"<!DOCTYPE html><html><head><title>Bomb</title></head><body>"
    if coding == "br":
        import brotli

        br = brotli.Compressor(quality=5)
        parts = [br.process(head), *(br.process(block) for _ in range(inflated_mb))]
        return b"".join([*parts, br.finish()])
    if sys.version_info >= (3, 14):
        from compression import zstd
    else:
        from backports import zstd
    zs = zstd.ZstdCompressor(level=3)
    parts = [zs.compress(head), *(zs.compress(block) for _ in range(inflated_mb))]
    return b"".join([*parts, zs.flush()])


@dataclass
class Shared:
    """Settings and caches common to every listener of the process."""

    delay_ms: int = 0
    bomb: BombCache = field(default_factory=lambda: BombCache(200))
    verbose: bool = False
    validators: str = "off"  # see VALIDATOR_MODES and the module docstring
    # /bench pages' revision (POST /_bench_rev?rev=N): nonzero changes every page a little,
    # so a benchmark pass can see every page changed (new bytes, new ETag).
    bench_rev: int = 0
    # Every page's Last-Modified: the start, to the second (HTTP dates have no fractions).
    started: dt.datetime = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))

    @property
    def started_http(self) -> str:
        return email.utils.format_datetime(self.started, usegmt=True)


# --------------------------------------------------------------------------------------------
# Server and handler
# --------------------------------------------------------------------------------------------


class MockHTTPServer(ThreadingHTTPServer):
    # Daemon threads: a request stuck in /slow must never keep the process alive, and
    # untracked threads keep memory flat over a long benchmark.
    daemon_threads = True
    request_queue_size = 1024  # listen backlog: benchmarks open hundreds of connections at once
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        state: HostState,
        shared: Shared,
        ssl_context: ssl.SSLContext | None = None,
        idle_timeout: float = 30.0,
    ) -> None:
        self.state = state
        self.shared = shared
        self.ssl_context = ssl_context
        self.idle_timeout = idle_timeout
        super().__init__(address, MockHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can hang
        # for seconds on 127.0.0.x where no resolver answers; the name is never needed.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        # A host that refuses one network (`--refuse HOST=CLIENT`): the connection is
        # closed unanswered, as a firewall that resets would.
        return str(client_address[0]) not in self.state.refused_clients

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        # The handshake runs here, in the per-connection thread, and not in accept(): a slow
        # or refusing client (the point of the bad-certificate listeners) must not stall the
        # accept loop.
        request.settimeout(self.idle_timeout)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except OSError:  # ssl.SSLError and resets included
            return
        try:
            MockHandler(tls, client_address, self)
        finally:
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], CLIENT_GONE):
            return
        super().handle_error(request, client_address)


Route = Callable[["MockHandler", str, dict[str, str], bytes], None]


class MockHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: benchmarks reuse connections
    server_version = "rotwatch-mock/1.0"
    sys_version = ""
    disable_nagle_algorithm = True  # small keep-alive responses otherwise wait on delayed ACKs
    server: MockHTTPServer

    # Per-request values, reset in _dispatch; class defaults cover send_error() paths that run
    # before dispatch (malformed request lines).
    _entry: dict[str, Any] | None = None
    _server_header: str | None = None
    _path = "/"
    _validators = "off"

    def setup(self) -> None:
        super().setup()
        # Idle keep-alive connections must give their thread back eventually.
        self.connection.settimeout(self.server.idle_timeout)

    # ---- plumbing ---------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.shared.verbose:
            super().log_message(format, *args)

    def version_string(self) -> str:
        # Not the base's "name sys_version": with no sys_version that leaves a trailing space.
        return self._server_header or self.server_version

    def send_response(self, code: int, message: str | None = None) -> None:
        if self._entry is not None:
            self._entry["status"] = code
            self._leave()
        super().send_response(code, message)

    def _leave(self) -> None:
        # A request stops counting as in flight when its answer starts, not after the last
        # byte: once the client has the answer it may send its next request on another
        # connection before this thread runs again, and on a loaded machine that counted
        # one request too many (a per-host limit seemingly broken by the server's timing).
        if not self._left:
            self._left = True
            self.server.state.leave()

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        self._entry = None
        self._left = False
        self._server_header = None
        split = urlsplit(self.path)
        self._path = split.path or "/"
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        state = self.server.state
        self._validators = query.get("validators", self.server.shared.validators)
        if self._validators not in VALIDATOR_MODES:
            self._validators = "off"
        if not self._path.startswith("/_"):
            # Logged before answering so that /drop and /reset are on record too.
            self._entry = state.record(self.command, self.path, self.headers)
            state.enter()
        try:
            body = self._read_body()
            if body is None:
                return
            route, arg = self._route(self._path)
            route(self, arg, query, body)
        except BadRequest as exc:
            self._respond(400, status_html(400, f"Bad Request: {exc}"))
        except CLIENT_GONE:
            self.close_connection = True
        finally:
            if self._entry is not None:
                self._leave()

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            # Not worth a chunked decoder: no test client here sends one.
            self.close_connection = True
            self._respond(411, status_html(411, "Length Required"))
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_REQUEST_BODY:
            self.close_connection = True
            self._respond(413, status_html(413, "Content Too Large"))
            return None
        # Always drain the body, or the next keep-alive request would be parsed out of it.
        return self.rfile.read(length) if length else b""

    def _respond(
        self,
        status: int,
        body: bytes | str,
        content_type: str = "text/html; charset=utf-8",
        headers: Iterable[tuple[str, str]] = (),
        reason: str | None = None,
    ) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        if status == 200 and self._validators != "off" and not self._path.startswith("/_"):
            status, headers = self._conditional(data, headers)
        no_body = status in (204, 304) or status < 200
        self.send_response(status, reason)
        if not no_body:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and not no_body:
            self.wfile.write(data)

    def _conditional(
        self, data: bytes, headers: Iterable[tuple[str, str]]
    ) -> tuple[int, list[tuple[str, str]]]:
        """ETag and Last-Modified on a 200, and 304 when the request's validators match."""
        etag = '"' + hashlib.sha1(data).hexdigest()[:20] + '"'
        modified = self.server.shared.started_http
        out = [*headers, ("ETag", etag), ("Last-Modified", modified)]
        mode = self._validators
        if mode == "lie":
            return 304, out
        if mode != "on":
            return 200, out
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
            return (304 if etag in tags or "*" in tags else 200), out
        since = self.headers.get("If-Modified-Since")
        if since is not None:
            with contextlib.suppress(TypeError, ValueError):
                if email.utils.parsedate_to_datetime(since) >= self.server.shared.started:
                    return 304, out
        return 200, out

    def _redirect(self, status: int, location: str, body: str | None = None) -> None:
        text = body or _page(
            f"{status} Redirect", "Moved", [f"This page has moved to {location}."]
        )
        self._respond(status, text, headers=[("Location", location)])

    # ---- routing ----------------------------------------------------------------------------

    def _route(self, path: str) -> tuple[Route, str]:
        exact = _EXACT.get(path)
        if exact is not None:
            return exact, ""
        for prefix, route in _PREFIXES:
            if path.startswith(prefix):
                return route, path[len(prefix) :]
        return MockHandler.r_unknown, ""

    # ---- content routes ---------------------------------------------------------------------

    def r_home(self, arg: str, q: dict[str, str], body: bytes) -> None:
        self._respond(200, HOME_HTML)

    def r_article(self, arg: str, q: dict[str, str], body: bytes) -> None:
        self._respond(200, article_html(self._path))

    def r_zh(self, arg: str, q: dict[str, str], body: bytes) -> None:
        self._respond(200, zh_article_html(self._path))

    def r_gbk(self, arg: str, q: dict[str, str], body: bytes) -> None:
        self._respond(200, GBK_HTML.encode("gbk"), content_type="text/html; charset=gbk")

    def r_zh_notfound(self, arg: str, q: dict[str, str], body: bytes) -> None:
        self._respond(200, ZH_NOTFOUND_HTML)

    def r_unknown(self, arg: str, q: dict[str, str], body: bytes) -> None:
        if self.server.state.soft404:
            self._respond(200, SOFT404_HTML)
        else:
            self._respond(404, NOT_FOUND_HTML)

    def r_status(self, arg: str, q: dict[str, str], body: bytes) -> None:
        code = _parse_int(arg, "status code")
        if not (200 <= code <= 599 or code == 999):
            raise BadRequest(f"status must be 200-599 or 999, not {code}")
        # 999 is LinkedIn's "we do not like your crawler" code; give it a phrase like theirs.
        reason = "Request denied" if code == 999 else self.responses.get(code, ("",))[0]
        extra = [("WWW-Authenticate", 'Basic realm="mock"')] if code == 401 else []
        self._respond(code, status_html(code, reason), headers=extra, reason=reason)

    # ---- redirects --------------------------------------------------------------------------

    def r_redirect(self, arg: str, q: dict[str, str], body: bytes) -> None:
        code_s, _, n_s = arg.partition("/")
        code = _parse_int(code_s, "redirect status")
        n = _parse_int(n_s, "hop count")
        if not 300 <= code <= 399:
            raise BadRequest("redirect status must be 3xx")
        if not 0 <= n <= MAX_REDIRECT_HOPS:
            raise BadRequest(f"hop count must be 0-{MAX_REDIRECT_HOPS}")
        if n == 0:
            self.r_article("", q, body)  # zero redirects: this is already the target
        else:
            self._redirect(code, "/ok" if n == 1 else f"/redirect/{code}/{n - 1}")

    def r_redirect_to(self, arg: str, q: dict[str, str], body: bytes) -> None:
        url = q.get("url")
        if not url:
            raise BadRequest("url is required")
        code = _parse_int(q.get("code", "302"), "code")
        if not 300 <= code <= 399:
            raise BadRequest("code must be 3xx")
        if any(c in url for c in "\r\n"):
            raise BadRequest("url must be one line")
        target = urlsplit(url)
        if target.netloc and not _is_loopback_name(target.hostname or ""):
            # A client following this would leave the machine; tests must never do that.
            raise BadRequest("only relative or loopback redirect targets are allowed")
        # Headers are Latin-1 on the wire: percent-encode an IRI the way a real site would.
        self._redirect(code, quote(url, safe=":/?#[]@!$&'()*+,;=%~"))

    def r_loop_a(self, arg: str, q: dict[str, str], body: bytes) -> None:
        self._redirect(302, "/loop/b")

    def r_loop_b(self, arg: str, q: dict[str, str], body: bytes) -> None:
        self._redirect(302, "/loop/a")

    def r_chain(self, arg: str, q: dict[str, str], body: bytes) -> None:
        n = _parse_int(arg, "hop count")
        if not 0 <= n <= MAX_REDIRECT_HOPS:
            raise BadRequest(f"hop count must be 0-{MAX_REDIRECT_HOPS}")
        if n == 0:
            self.r_article("", q, body)
            return
        # Absolute Locations and every 3xx flavour, unlike /redirect/: exercises URL joining
        # and method rewriting in whatever follows the chain.
        base = self.server.state.base_url
        target = f"{base}/ok" if n == 1 else f"{base}/chain/{n - 1}"
        self._redirect((301, 302, 303, 307, 308)[n % 5], target)

    def r_deep(self, arg: str, q: dict[str, str], body: bytes) -> None:
        self._redirect(302, "/")  # the "moved articles go to the home page" soft 404

    # ---- timing and connection failures -----------------------------------------------------

    def r_slow(self, arg: str, q: dict[str, str], body: bytes) -> None:
        time.sleep(_clamp_float(q.get("delay"), 5.0, 0.0, MAX_DELAY_S))
        self._respond(200, article_html(self._path))

    def r_drip(self, arg: str, q: dict[str, str], body: bytes) -> None:
        seconds = _clamp_float(q.get("seconds"), 5.0, 0.0, MAX_DELAY_S)
        chunks = int(_clamp_float(q.get("chunks"), 10, 1, 1000))
        data = article_html(self._path).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()  # headers leave now; only the body is slow
        if self.command == "HEAD":
            return
        size = -(-len(data) // chunks)
        for start in range(0, len(data), size):
            time.sleep(seconds / chunks)
            self.wfile.write(data[start : start + size])

    def r_drop(self, arg: str, q: dict[str, str], body: bytes) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)  # FIN with no status line at all

    def r_reset(self, arg: str, q: dict[str, str], body: bytes) -> None:
        self.close_connection = True
        # Linger on with a zero timeout turns close() into an abortive close: RST, not FIN.
        # The actual close happens once rfile lets go of the socket, right after this returns.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    # ---- size -------------------------------------------------------------------------------

    def r_gzip_bomb(self, arg: str, q: dict[str, str], body: bytes) -> None:
        data = self.server.shared.bomb.get()
        if data is None:
            self._respond(503, status_html(503, "Bomb not built yet"))
            return
        self._respond(200, data, headers=[("Content-Encoding", "gzip")])

    def r_br_bomb(self, arg: str, q: dict[str, str], body: bytes) -> None:
        self._coded_bomb("br", q)

    def r_zstd_bomb(self, arg: str, q: dict[str, str], body: bytes) -> None:
        self._coded_bomb("zstd", q)

    def _coded_bomb(self, coding: str, q: dict[str, str]) -> None:
        mb = int(_clamp_float(q.get("mb"), 200.0, 1.0, MAX_CODED_BOMB_MB))
        self._respond(200, coded_bomb(coding, mb), headers=[("Content-Encoding", coding)])

    def r_big(self, arg: str, q: dict[str, str], body: bytes) -> None:
        total = int(_clamp_float(q.get("mb"), 1.0, 0.0, MAX_BIG_MB) * MIB)
        head = b"<!DOCTYPE html><html><head><title>Big</title></head><body><pre>\n"
        tail = b"\n</pre></body></html>\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(total))
        self.end_headers()
        if self.command == "HEAD":
            return
        if total < len(head) + len(tail):
            self.wfile.write(b"x" * total)
            return
        # Streamed in 64 KiB pieces: 100 MB never sits in memory, and a client that gives up
        # early stops the writes (BrokenPipe, handled in _dispatch).
        self.wfile.write(head)
        remaining = total - len(head) - len(tail)
        block = (b"x" * 63 + b"\n") * 1024
        while remaining > 0:
            piece = block[: min(remaining, len(block))]
            self.wfile.write(piece)
            remaining -= len(piece)
        self.wfile.write(tail)

    # ---- retries ----------------------------------------------------------------------------

    def r_retry_after(self, arg: str, q: dict[str, str], body: bytes) -> None:
        code = _parse_int(arg, "status")
        if not 400 <= code <= 599:
            raise BadRequest("status must be 4xx or 5xx (429 and 503 are the usual ones)")
        times = int(_clamp_float(q.get("times"), 1, 0, 1_000_000))
        after = q.get("after", "1")
        if not after.isprintable():
            raise BadRequest("after must be printable")
        n = self.server.state.bump("retry-after", q.get("key", ""))
        if n <= times:
            self._respond(
                code,
                status_html(code, f"try again later ({n} of {times})"),
                headers=[("Retry-After", after)],
            )
        else:
            self._respond(200, article_html(self._path))

    def r_flaky(self, arg: str, q: dict[str, str], body: bytes) -> None:
        times = int(_clamp_float(q.get("times"), 1, 0, 1_000_000))
        n = self.server.state.bump("flaky", q.get("key", ""))
        if n <= times:
            self._respond(500, status_html(500, f"Internal Server Error ({n} of {times})"))
        else:
            self._respond(200, article_html(self._path))

    # ---- robots and blocking ----------------------------------------------------------------

    def r_robots(self, arg: str, q: dict[str, str], body: bytes) -> None:
        delay = self.server.state.robots_delay
        if delay > 0:
            time.sleep(delay)
        self._respond(200, ROBOTS_TXT, content_type="text/plain; charset=utf-8")

    def r_challenge(self, arg: str, q: dict[str, str], body: bytes) -> None:
        self._server_header = "cloudflare"
        headers = [
            ("cf-mitigated", "challenge"),
            ("cf-ray", f"{random.getrandbits(64):016x}-MOCK"),
            ("Cache-Control", "private, max-age=0, no-store, no-cache, must-revalidate"),
        ]
        self._respond(403, CHALLENGE_HTML, headers=headers)

    def r_challenge_200(self, arg: str, q: dict[str, str], body: bytes) -> None:
        self._respond(200, CAPTCHA_HTML)

    # ---- mutable pages and benchmarks -------------------------------------------------------

    def r_watch(self, arg: str, q: dict[str, str], body: bytes) -> None:
        # A video site: the page is named by ?v=; a video that is gone (any id not starting
        # with "live") still answers 200 with the same "not available" shell.
        video = q.get("v")
        if video is None:
            self._redirect(302, "/")  # as video sites do: no id, no video page
        elif video.startswith("live"):
            self._respond(200, _page(f"Video {video}", f"Video {video}", [
                f"Engineers walked section {i} of the levee for video {video}." for i in range(8)]))
        else:
            self._respond(200, _page("Video", "Video", [
                "This video isn't available anymore.", "Try searching for another."]))

    def r_mutable(self, arg: str, q: dict[str, str], body: bytes) -> None:
        state = self.server.state
        with state.lock:
            page = state.pages.get(unquote(arg))
        if page is None:
            self._respond(404, NOT_FOUND_HTML)
        else:
            self._respond(page.status, page.body, content_type=page.content_type)

    def r_bench(self, arg: str, q: dict[str, str], body: bytes) -> None:
        status_s, _, ident = arg.partition("/")
        status = _parse_int(status_s, "status")
        if not (200 <= status <= 599 or status == 999):
            raise BadRequest("status must be 200-599 or 999")
        delay_ms = _clamp_float(q.get("delay_ms"), self.server.shared.delay_ms, 0, 60_000)
        if delay_ms:
            time.sleep(delay_ms / 1000)
        # ?kb=N: an article-sized page (about N KiB of distinct paragraphs), for benchmarks
        # that measure work per byte (text extraction, WARC, rechecks).
        size = int(_clamp_float(q.get("kb"), 0, 0, 1024) * 1024)
        filler = "".join(
            f"<p>Paragraph {n} of bench page {html.escape(ident)}: the harbour authority "
            f"reported that ferry line {n % 17} ran {n * 7 % 60} minutes late.</p>\n"
            for n in range(size // 110 + 1)) if size else ""
        rev = self.server.shared.bench_rev
        if rev:
            filler = f"<p>Revision {rev}: figures corrected.</p>\n{filler}"
        text = (
            f"<!DOCTYPE html><html><head><title>Bench {html.escape(ident)}</title></head>"
            f"<body><h1>Bench page {html.escape(ident)}</h1><p>Status {status}.</p>{filler}"
            "</body></html>\n"
        )
        if 300 <= status <= 399 and status != 304:
            moved = f"/bench/200/{ident}-moved" + (f"?kb={q['kb']}" if size else "")
            self._redirect(status, moved, body=text)
        else:
            self._respond(status, text, reason="Request denied" if status == 999 else None)

    # ---- control routes ---------------------------------------------------------------------

    def r_log(self, arg: str, q: dict[str, str], body: bytes) -> None:
        clear = q.get("clear", "") not in ("", "0", "false")
        entries = self.server.state.snapshot(clear)
        self._respond(200, json.dumps(entries), content_type="application/json")

    def r_stats(self, arg: str, q: dict[str, str], body: bytes) -> None:
        state = self.server.state
        with state.lock:
            stats = {"requests": state.seq, "inflight": state.inflight,
                     "max_inflight": state.max_inflight}
        self._respond(200, json.dumps(stats), content_type="application/json")

    def r_set(self, arg: str, q: dict[str, str], body: bytes) -> None:
        name = unquote(arg)
        state = self.server.state
        if not name:
            raise BadRequest("a page name is required")
        if self.command == "DELETE":
            with state.lock:
                state.pages.pop(name, None)
            self._respond(204, b"")
            return
        if self.command not in ("POST", "PUT"):
            self._respond(405, status_html(405, "Method Not Allowed"), headers=[("Allow", "POST")])
            return
        status = _parse_int(self.headers.get("X-Status", "200"), "X-Status")
        if not (200 <= status <= 599 or status == 999):
            raise BadRequest("X-Status must be 200-599 or 999")
        ctype = self.headers.get("Content-Type") or "text/html; charset=utf-8"
        with state.lock:
            state.pages[name] = MutablePage(status, body, ctype)
        info = {"name": name, "status": status, "bytes": len(body),
                "url": f"{state.base_url}/mutable/{name}"}
        self._respond(200, json.dumps(info), content_type="application/json")

    def r_reset_state(self, arg: str, q: dict[str, str], body: bytes) -> None:
        if self.command != "POST":
            self._respond(405, status_html(405, "Method Not Allowed"), headers=[("Allow", "POST")])
            return
        self.server.state.reset()
        self._respond(200, json.dumps({"reset": self.server.state.name}), "application/json")

    def r_bench_rev(self, arg: str, q: dict[str, str], body: bytes) -> None:
        if self.command != "POST":
            self._respond(405, status_html(405, "Method Not Allowed"), headers=[("Allow", "POST")])
            return
        self.server.shared.bench_rev = int(_clamp_float(q.get("rev"), 0, 0, 1_000_000))
        self._respond(200, json.dumps({"bench_rev": self.server.shared.bench_rev}),
                      "application/json")


_EXACT: dict[str, Route] = {
    "/": MockHandler.r_home,
    "/ok": MockHandler.r_article,
    "/gbk": MockHandler.r_gbk,
    "/zh-notfound": MockHandler.r_zh_notfound,
    "/redirect-to": MockHandler.r_redirect_to,
    "/loop/a": MockHandler.r_loop_a,
    "/loop/b": MockHandler.r_loop_b,
    "/slow": MockHandler.r_slow,
    "/drip": MockHandler.r_drip,
    "/drop": MockHandler.r_drop,
    "/reset": MockHandler.r_reset,
    "/gzip-bomb": MockHandler.r_gzip_bomb,
    "/br-bomb": MockHandler.r_br_bomb,
    "/zstd-bomb": MockHandler.r_zstd_bomb,
    "/big": MockHandler.r_big,
    "/flaky": MockHandler.r_flaky,
    "/robots.txt": MockHandler.r_robots,
    "/challenge": MockHandler.r_challenge,
    "/challenge-200": MockHandler.r_challenge_200,
    "/watch": MockHandler.r_watch,
    "/_log": MockHandler.r_log,
    "/_stats": MockHandler.r_stats,
    "/_reset": MockHandler.r_reset_state,
    "/_bench_rev": MockHandler.r_bench_rev,
}

_PREFIXES: tuple[tuple[str, Route], ...] = (
    ("/page/", MockHandler.r_article),
    ("/real/", MockHandler.r_article),
    ("/private/", MockHandler.r_article),
    ("/zh/", MockHandler.r_zh),
    ("/status/", MockHandler.r_status),
    ("/redirect/", MockHandler.r_redirect),
    ("/chain/", MockHandler.r_chain),
    ("/deep/", MockHandler.r_deep),
    ("/retry-after/", MockHandler.r_retry_after),
    ("/mutable/", MockHandler.r_mutable),
    ("/bench/", MockHandler.r_bench),
    ("/_set/", MockHandler.r_set),
)


def _parse_int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"{what} must be an integer, not {text!r}") from None


def _clamp_float(text: str | None, default: float, lo: float, hi: float) -> float:
    """Parse a numeric query value and clamp it, so no request can ask for an unbounded wait."""
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"not a number: {text!r}") from None
    if value != value:  # NaN would slip through min/max
        raise BadRequest("not a number: nan")
    return max(lo, min(hi, value))


def _is_loopback_name(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------------------------


@dataclass
class CertSet:
    ca_file: Path
    # listener name -> (certificate file, key file)
    pairs: dict[str, tuple[Path, Path]]


def make_certificates(directory: Path) -> CertSet:
    """A test CA and four server certificates: one good, three that must fail verification."""
    # Imported here so the rest of the module (and --no-tls runs) needs only the stdlib.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    day = dt.timedelta(days=1)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "rotwatch tests")])

    def key_usage(*, ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
            encipher_only=False, decipher_only=False,
        )

    # EC keys: generating five RSA keys would add a visible delay to every server start.
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("rotwatch mock test CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - day).not_valid_after(now + 30 * day)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(
        cn: str, sans: list[x509.GeneralName], *, self_signed: bool = False,
        not_before: dt.datetime = now - day, not_after: dt.datetime = now + 30 * day,
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        issuer_key = key if self_signed else ca_key
        # Full set of extensions (SKI/AKI, EKU, critical BasicConstraints): strict verifiers
        # should reject these certificates for the intended reason only.
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(name(cn) if self_signed else ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
            )
            .sign(issuer_key, hashes.SHA256())
        )
        return cert, key

    loopback = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    certs = {
        "tls": leaf("127.0.0.1", loopback),
        "bad_tls": leaf("127.0.0.1", loopback, self_signed=True),
        "expired_tls": leaf("127.0.0.1", loopback, not_before=now - 60 * day,
                            not_after=now - 30 * day),
        "wrong_host_tls": leaf("wrong.host.invalid", [x509.DNSName("wrong.host.invalid")]),
    }

    directory.mkdir(parents=True, exist_ok=True)
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    pairs: dict[str, tuple[Path, Path]] = {}
    for label, (cert, key) in certs.items():
        cert_file, key_file = directory / f"{label}.crt", directory / f"{label}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ))
        key_file.chmod(0o600)
        pairs[label] = (cert_file, key_file)
    return CertSet(ca_file, pairs)


# --------------------------------------------------------------------------------------------
# Process
# --------------------------------------------------------------------------------------------


def parse_hosts(spec: str) -> list[str]:
    """``a,b,c`` with ranges ``127.0.0.2-127.0.0.21`` or ``127.0.0.2-21``; loopback only."""
    hosts: list[str] = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        first_s, dash, last_s = item.partition("-")
        try:
            first = ipaddress.IPv4Address(first_s)
            if dash:
                last = (ipaddress.IPv4Address(last_s) if "." in last_s
                        else ipaddress.IPv4Address(f"{first_s.rsplit('.', 1)[0]}.{last_s}"))
            else:
                last = first
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"bad host {item!r}: {exc}") from None
        if last < first or int(last) - int(first) > 1000:
            raise argparse.ArgumentTypeError(f"bad host range {item!r}")
        for n in range(int(first), int(last) + 1):
            addr = ipaddress.IPv4Address(n)
            if not addr.is_loopback:
                raise argparse.ArgumentTypeError(f"{addr} is not a loopback address")
            if str(addr) not in hosts:
                hosts.append(str(addr))
    if not hosts:
        raise argparse.ArgumentTypeError("no hosts given")
    return hosts


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tests.mockserver", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hosts", type=parse_hosts, default=list(DEFAULT_HOSTS),
                   help="loopback addresses to serve, e.g. 127.0.0.1,127.0.0.2 or 127.0.0.2-21")
    p.add_argument("--port", type=int, default=0, help="port for every plain host (0 = ephemeral)")
    p.add_argument("--soft404-hosts", type=parse_hosts, default=list(DEFAULT_SOFT404_HOSTS),
                   help="hosts whose unknown paths answer 200 (default 127.0.0.3)")
    p.add_argument("--tls-port", type=int, default=0, help="port of the good TLS listener")
    p.add_argument("--no-tls", action="store_true", help="no TLS listeners (faster start)")
    p.add_argument("--slow-robots", type=float, default=2.0,
                   help="seconds the slow_robots listener waits before answering /robots.txt")
    p.add_argument("--delay-ms", type=int, default=0, help="default delay of /bench/ routes")
    p.add_argument("--bomb-mb", type=int, default=200, help="inflated size of /gzip-bomb")
    p.add_argument("--idle-timeout", type=float, default=30.0,
                   help="seconds an idle keep-alive connection may hold its thread")
    p.add_argument("--max-seconds", type=float, default=3600.0, help="exit after this long")
    p.add_argument("--cert-dir", help="where to write certificates (default: a temp dir, removed)")
    p.add_argument("--verbose", action="store_true", help="access log on stderr")
    p.add_argument("--refuse", action="append", default=[], metavar="HOST=CLIENT",
                   help="host HOST closes connections from source address CLIENT unanswered")
    p.add_argument("--validators", choices=VALIDATOR_MODES, default="off",
                   help="ETag/Last-Modified on 200 answers, and how conditions are honoured")
    return p


def _stdin_is_watchable() -> bool:
    # Only a pipe or socket means "a parent holds the other end". /dev/null reads EOF at once,
    # and reading a terminal from a background job would stop the process (SIGTTIN).
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _watch_stdin(stop: threading.Event) -> None:
    try:
        while os.read(0, 65536):
            pass
    except OSError:
        pass
    stop.set()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Hundreds of concurrent connections mean hundreds of threads; 8 MiB of stack each is
    # only address space, but a smaller stack keeps the benchmark's footprint honest.
    threading.stack_size(512 * 1024)

    owns_dir = args.cert_dir is None
    cert_dir = Path(args.cert_dir or tempfile.mkdtemp(prefix="rotwatch-mock-"))
    shared = Shared(delay_ms=args.delay_ms, bomb=BombCache(args.bomb_mb), verbose=args.verbose,
                    validators=args.validators)
    shared.bomb.start()
    servers: list[MockHTTPServer] = []
    soft404 = set(args.soft404_hosts)
    refused: dict[str, set[str]] = {}
    for rule in args.refuse:
        host, _, client = rule.partition("=")
        refused.setdefault(host, set()).add(client)

    def listen(ip: str, port: int, state: HostState, ctx: ssl.SSLContext | None = None) -> str:
        server = MockHTTPServer((ip, port), state, shared, ctx, args.idle_timeout)
        state.base_url = f"{'https' if ctx else 'http'}://{ip}:{server.server_port}"
        servers.append(server)
        return state.base_url

    try:
        hosts = [listen(ip, args.port, HostState(
            ip, soft404=ip in soft404, refused_clients=frozenset(refused.get(ip, ()))))
            for ip in args.hosts]
        listeners = dict(zip(args.hosts, hosts, strict=True))
        listeners["slow_robots"] = listen(
            "127.0.0.1", 0, HostState("slow_robots", robots_delay=max(0.0, args.slow_robots))
        )
        ca_file: str | None = None
        if not args.no_tls:
            certs = make_certificates(cert_dir)
            ca_file = str(certs.ca_file)
            for label, (cert_file, key_file) in certs.pairs.items():
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(cert_file, key_file)
                port = args.tls_port if label == "tls" else 0
                listeners[label] = listen("127.0.0.1", port, HostState(label), ctx)

        for server in servers:
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                             name=f"serve-{server.state.name}", daemon=True).start()

        info = {
            "pid": os.getpid(),
            "hosts": hosts,
            "soft404_hosts": [listeners[ip] for ip in args.hosts if ip in soft404],
            "slow_robots": listeners["slow_robots"],
            "tls": listeners.get("tls"),
            "bad_tls": listeners.get("bad_tls"),
            "expired_tls": listeners.get("expired_tls"),
            "wrong_host_tls": listeners.get("wrong_host_tls"),
            "ca_file": ca_file,
            "listeners": listeners,
        }
        print(json.dumps(info), flush=True)
        # Nothing else may reach stdout: a parent that read the one line may never read again,
        # and a full pipe would block the server.
        sys.stdout = sys.stderr

        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: stop.set())
        if _stdin_is_watchable():
            threading.Thread(target=_watch_stdin, args=(stop,), daemon=True).start()
        deadline = time.monotonic() + args.max_seconds
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            stop.wait(min(remaining, 0.5))
    finally:
        # Shut the accept loops down in parallel (each takes up to one poll interval), then
        # leave: request threads are daemons and die with the process.
        stoppers = [threading.Thread(target=s.shutdown, daemon=True) for s in servers]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join(2.0)
        for server in servers:
            server.server_close()
        if owns_dir:
            shutil.rmtree(cert_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
