"""The benchmarks' target server backed by nginx: the /bench workload at a fraction of the CPU.

Benchmarks only (never tests or CI): the mock server (tests/mockserver.py) is a threaded
Python process and spends CPU per request on the same two cores the checkers need, which
hurts a CPU-bound Scrapy crawl far more than lychee. This one serves the same URLs from
nginx (``apt-get install -y nginx libnginx-mod-http-echo``):

* ``/bench/<status>/<ident>`` after ``delay_ms`` (the echo module's ``echo_sleep``, a timer
  in nginx's event loop, then ``echo_exec`` to an internal location for the status);
* 200: the same page as the mock server's (`bench_html`), written to a
  static file per ident before nginx starts, so nginx sends ``ETag`` and ``Last-Modified``
  and answers a matching ``If-None-Match`` / ``If-Modified-Since`` with 304 by itself;
* 301 / 302 to ``/bench/200/<ident>-moved`` (query kept); 404, 410, 500, 503 and 429 (with
  ``Retry-After: 1``) with the mock's small page; an unknown ident under /bench/200/ (a
  soft-404 probe's made-up sibling) is an honest 404 (the mock answers 200 there);
* ``/robots.txt``: the mock's (``Disallow: /private/``), at once, as the mock does;
* ``/_nginx_status``: nginx's request counter (stub_status);
* every request logged (``requests.log``: end time, duration, host address, status, URI;
  ``requests_since()``), for the bounds of benchmarks/bounds.py.

One server block listens on every host address (127.0.0.2, 127.0.0.3, ...) at one port.
With ``page_kb`` the 200 pages are article-sized like the mock's ``?kb=N``; error pages stay
small. CPU and requests (``usage()``) let a benchmark state the server's cost per request.
"""

from __future__ import annotations

import contextlib
import html
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.request import urlopen

import psutil

from benchmarks.bounds import LoggedRequest, parse_nginx_line
from tests.mockserver import ROBOTS_TXT

ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
ERROR_STATUSES = (404, 410, 429, 500, 503)
REDIRECT_STATUSES = (301, 302)


def bench_html(ident: str, status: int, size: int = 0) -> str:
    """The mock server's page for ``/bench/<status>/<ident>`` (tests/mockserver.py,
    r_bench), with about ``size`` bytes of distinct paragraphs (none when 0)."""
    filler = "".join(
        f"<p>Paragraph {n} of bench page {html.escape(ident)}: the harbour authority "
        f"reported that ferry line {n % 17} ran {n * 7 % 60} minutes late.</p>\n"
        for n in range(size // 110 + 1)) if size else ""
    return (f"<!DOCTYPE html><html><head><title>Bench {html.escape(ident)}</title></head>"
            f"<body><h1>Bench page {html.escape(ident)}</h1><p>Status {status}.</p>{filler}"
            "</body></html>\n")


class NginxMissing(RuntimeError):
    """nginx or its echo module is not installed."""


@dataclass(frozen=True)
class ServerUsage:
    """What a target server has spent so far: CPU seconds (all its processes) and requests."""

    cpu_s: float
    requests: int

    def __sub__(self, other: ServerUsage) -> ServerUsage:
        return ServerUsage(self.cpu_s - other.cpu_s, self.requests - other.requests)


def _free_port(addresses: list[str]) -> int:
    """A port free on every address (checked by binding each; nginx binds it next)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((addresses[0], 0))
            port = int(probe.getsockname()[1])
        try:
            for address in addresses:
                with socket.socket() as s:
                    s.bind((address, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no port free on every benchmark address")


def _quoted(text: str) -> str:
    """An nginx string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _error_body(status: int) -> str:
    # The mock's page for a status, with nginx's $1 (the ident) in place of the ident.
    return bench_html("IDENT", status).replace("IDENT", "$1")


class NginxServer:
    """nginx serving the /bench workload on ``hosts`` loopback addresses (127.0.0.2…)."""

    def __init__(self, pages: Iterable[tuple[int, str]], *, hosts: int = 20,
                 delay_ms: int = 50, page_kb: int = 0, workers: int = 1,
                 cpus: str | None = None) -> None:
        self.pages = list(pages)
        self.addresses = [f"127.0.0.{2 + n}" for n in range(hosts)]
        self.delay_ms = delay_ms
        self.page_kb = page_kb
        self.workers = workers
        self.cpus = cpus
        self.port = 0
        self.dir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._status_calls = 0  # our own requests to /_nginx_status, not the workload's
        self._log_offset = 0  # how far requests_since() has read requests.log

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> NginxServer:
        exe = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                        else None)
        if exe is None or not ECHO_MODULE.exists():
            raise NginxMissing("nginx with the echo module is needed for --server nginx: "
                               "apt-get install -y nginx libnginx-mod-http-echo")
        self.dir = Path(tempfile.mkdtemp(prefix="rotwatch-bench-nginx-"))
        # nginx's workers drop root to `nobody`: the pages must be readable by anyone.
        self.dir.chmod(0o755)
        self._write_pages(self.dir / "pages")
        self.port = _free_port(self.addresses)
        conf = self.dir / "nginx.conf"
        conf.write_text(self.config(), encoding="utf-8")
        cmd = [exe, "-p", str(self.dir), "-c", str(conf), "-g", "daemon off;"]
        if self.cpus is not None:
            cmd = ["taskset", "-c", self.cpus, *cmd]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(OSError), socket.create_connection(
                    (self.addresses[-1], self.port), timeout=0.5):
                return self
            time.sleep(0.05)
        log = self.dir / "error.log"
        tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
        self.stop()
        raise RuntimeError(f"nginx did not start: {tail.strip()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGQUIT)  # graceful: workers finish
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> NginxServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ---- the workload ------------------------------------------------------------------
    def _write_pages(self, root: Path) -> None:
        root.mkdir()
        root.chmod(0o755)
        size = self.page_kb * 1024
        for status, ident in self.pages:
            name, page_status = ((ident, status) if status == 200 else
                                 (f"{ident}-moved", 200) if status in REDIRECT_STATUSES
                                 else (None, 0))
            if name is not None:
                (root / name).write_text(bench_html(name, page_status, size), encoding="utf-8")

    def config(self) -> str:
        assert self.dir is not None
        d = self.dir
        listen = "".join(f"    listen {a}:{self.port};\n" for a in self.addresses)
        sleep = f"echo_sleep {self.delay_ms / 1000:.3f}; " if self.delay_ms else ""
        errors = "".join(
            f"    location ~ ^/_x/{code}/([^/]+)$ {{ internal; "
            + ("add_header Retry-After 1 always; " if code == 429 else "")
            + f"return {code} {_quoted(_error_body(code))}; }}\n"
            for code in ERROR_STATUSES)
        redirects = "".join(
            f"    location ~ ^/_x/{code}/([^/]+)$ {{ internal; "
            f"return {code} /bench/200/$1-moved$is_args$args; }}\n"
            for code in REDIRECT_STATUSES)
        return f"""load_module {ECHO_MODULE};
worker_processes {self.workers};
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections 8192; }}
http {{
  # Unbuffered: a tool's requests are all in the file when the tool has exited.
  log_format rw '$msec $request_time $server_addr $status $request_uri';
  access_log {d}/requests.log rw;
  client_body_temp_path {d}/tmp-body;
  proxy_temp_path {d}/tmp-proxy;
  fastcgi_temp_path {d}/tmp-fastcgi;
  uwsgi_temp_path {d}/tmp-uwsgi;
  scgi_temp_path {d}/tmp-scgi;
  types {{ }}
  default_type text/html;
  charset utf-8;
  server_tokens off;
  # Like the mock server: keep-alive connections are reused for the whole run.
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  tcp_nodelay on;
  server {{
{listen}    location ~ ^/bench/(\\d+)/([^/]+)$ {{ {sleep}echo_exec /_x/$1/$2 $args; }}
    location /_x/200/ {{ internal; alias {d}/pages/; }}
{redirects}{errors}    location = /robots.txt {{ default_type "text/plain; charset=utf-8";
      return 200 {_quoted(ROBOTS_TXT)}; }}
    location = /_nginx_status {{ stub_status; }}
    location / {{ return 404; }}
  }}
}}
"""

    # ---- for the benchmark -------------------------------------------------------------
    def url(self, path: str = "/", host: int = 1) -> str:
        """URL on host ``host`` (1-based: 1 is 127.0.0.2), as MockServer.url."""
        return f"http://{self.addresses[host - 1]}:{self.port}/{path.lstrip('/')}"

    def requests_since(self) -> list[LoggedRequest]:
        """The requests logged since the last call (the first call: since the start)."""
        assert self.dir is not None
        log = self.dir / "requests.log"
        if not log.exists():
            return []
        with log.open("rb") as fh:
            fh.seek(self._log_offset)
            data = fh.read()
        whole = data[:data.rfind(b"\n") + 1]  # a line still being written waits
        self._log_offset += len(whole)
        parsed = (parse_nginx_line(line) for line in whole.decode().splitlines())
        return [r for r in parsed if r is not None]

    def usage(self) -> ServerUsage:
        assert self.proc is not None
        master = psutil.Process(self.proc.pid)
        cpu = 0.0
        for proc in [master, *master.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = proc.cpu_times()
                cpu += times.user + times.system
        with urlopen(self.url("/_nginx_status"), timeout=10) as answer:
            lines = answer.read().decode().splitlines()
        self._status_calls += 1
        # "server accepts handled requests" / " A H R": the status requests are counted too.
        requests = int(lines[2].split()[2]) - self._status_calls
        return ServerUsage(cpu, requests)
