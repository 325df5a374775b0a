"""Shared pytest fixtures for rotwatch's tests.

Mock web server
    ``mockserver`` (session scope) runs ``python -m tests.mockserver`` as a real subprocess
    (see that module's docstring for every route) and yields a :class:`MockServer`. Benchmarks
    use the same class directly::

        from tests.conftest import MockServer

        with MockServer(hosts=["127.0.0.2-21"], delay_ms=50, tls=False, bomb_mb=0) as srv:
            srv.url("/bench/200/1", host=5)

Further fixture sections (stores, ...) are added below by their owners.
"""

from __future__ import annotations

import json
import queue
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------------------------
# Mock web server
# --------------------------------------------------------------------------------------------

# Control calls ignore proxy variables: a stray http_proxy must not send loopback traffic
# through some proxy (or fail the suite on a machine that has one configured).
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class MockServer:
    """Client side of one ``tests.mockserver`` process: start, address, inspect, stop.

    ``host`` arguments accept a 1-based index into :attr:`hosts` (``1`` is the first of
    ``--hosts``, 127.0.0.1 by default), an address such as ``"127.0.0.3"``, a listener name
    (``"tls"``, ``"bad_tls"``, ``"expired_tls"``, ``"wrong_host_tls"``, ``"slow_robots"``)
    or a base URL.
    """

    def __init__(
        self,
        hosts: Sequence[str] | None = None,
        *,
        port: int = 0,
        delay_ms: int = 0,
        soft404_hosts: Sequence[str] | None = None,
        tls: bool = True,
        slow_robots: float = 2.0,
        bomb_mb: int = 200,
        max_seconds: float = 3600.0,
        start_timeout: float = 30.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.args: list[str] = ["--port", str(port), "--delay-ms", str(delay_ms)]
        self.args += ["--slow-robots", str(slow_robots), "--max-seconds", str(max_seconds)]
        # The bomb costs ~1 CPU-second at start (in the background): benchmarks that do not
        # use /gzip-bomb pass bomb_mb=0 so it does not compete with what they measure.
        self.args += ["--bomb-mb", str(bomb_mb)]
        if hosts is not None:
            self.args += ["--hosts", ",".join(hosts)]
        if soft404_hosts is not None:
            self.args += ["--soft404-hosts", ",".join(soft404_hosts)]
        if not tls:
            self.args.append("--no-tls")
        self.args += list(extra_args)
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self._stderr: IO[bytes] | None = None

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self) -> MockServer:
        # stderr goes to a file, not a pipe nobody drains: the tail is shown if start fails.
        # It must outlive this method, so no `with`; stop() closes it.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.mockserver", *self.args],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,  # closing it is the server's cue to exit, even if we die
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        line = self._read_ready_line()
        try:
            self.info = json.loads(line)
        except json.JSONDecodeError:
            self.stop()
            raise RuntimeError(f"mock server printed {line!r} instead of JSON") from None
        return self

    def _read_ready_line(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        stdout = self.proc.stdout
        lines: queue.Queue[bytes] = queue.Queue()
        # readline() cannot time out by itself; a helper thread bounds the wait.
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=self.start_timeout)
        except queue.Empty:
            line = b""
        if not line.strip():
            self.stop()
            raise RuntimeError(
                f"mock server gave no ready line within {self.start_timeout}s "
                f"(exit code {self.proc.returncode}); stderr:\n{self.stderr_tail()}"
            )
        return line.decode()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask politely (stdin EOF and SIGTERM), then SIGKILL after ``timeout`` seconds."""
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.stdin is not None:
                proc.stdin.close()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout)
            if proc.stdout is not None:
                proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def stderr_tail(self, limit: int = 4000) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-limit:]

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- addresses --------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return int(self.info["pid"])

    @property
    def hosts(self) -> list[str]:
        """Base URLs of the plain HTTP hosts, in ``--hosts`` order."""
        return list(self.info["hosts"])

    @property
    def soft404_hosts(self) -> list[str]:
        return list(self.info["soft404_hosts"])

    @property
    def ca_file(self) -> str:
        """PEM file of the test CA: point SSL_CERT_FILE or a ca_bundle at it."""
        if not self.info.get("ca_file"):
            raise RuntimeError("this mock server was started without TLS")
        return str(self.info["ca_file"])

    def host(self, n: int | str = 1) -> str:
        """Base URL (no trailing slash) of a host; see the class docstring for ``n``."""
        if isinstance(n, int):
            if not 1 <= n <= len(self.hosts):
                raise IndexError(f"host {n} out of 1..{len(self.hosts)}")
            return self.hosts[n - 1]
        if "://" in n:
            return n.rstrip("/")
        listeners: dict[str, str | None] = self.info["listeners"]
        base = listeners.get(n)
        if base is None:
            raise KeyError(f"no listener {n!r}; known: {sorted(listeners)}")
        return base

    def url(self, path: str = "/", host: int | str = 1) -> str:
        return self.host(host) + "/" + path.lstrip("/")

    def tls_url(self, path: str = "/") -> str:
        """URL on the listener whose certificate the test CA signed for 127.0.0.1."""
        return self.url(path, "tls")

    def bad_tls_url(self, path: str = "/") -> str:
        """URL on the self-signed listener: verification must fail."""
        return self.url(path, "bad_tls")

    def expired_tls_url(self, path: str = "/") -> str:
        return self.url(path, "expired_tls")

    def wrong_host_tls_url(self, path: str = "/") -> str:
        return self.url(path, "wrong_host_tls")

    def slow_robots_url(self, path: str = "/") -> str:
        """URL on the listener whose /robots.txt answers only after ``slow_robots`` seconds."""
        return self.url(path, "slow_robots")

    # ---- control ----------------------------------------------------------------------------

    def _call(self, url: str, data: bytes | None = None, headers: dict[str, str] | None = None,
              method: str | None = None) -> bytes:
        context = None
        if url.startswith("https:"):
            context = ssl.create_default_context(cafile=self.ca_file)
            # Control calls must reach the bad-certificate listeners too; the check is what
            # tests are for, not what this helper is for.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
        opener = _DIRECT
        if context is not None:
            opener = urllib.request.build_opener(
                urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
            )
        with opener.open(request, timeout=10) as response:
            body: bytes = response.read()
        return body

    def log(self, host: int | str = 1, clear: bool = False) -> list[dict[str, Any]]:
        """Requests seen by ``host`` (oldest first), ``/_``-control calls excluded."""
        query = "?clear=1" if clear else ""
        entries: list[dict[str, Any]] = json.loads(self._call(self.url("/_log" + query, host)))
        return entries

    def stats(self, host: int | str = 1) -> dict[str, int]:
        """``requests``, ``inflight`` and ``max_inflight`` (most at once) of ``host``."""
        stats: dict[str, int] = json.loads(self._call(self.url("/_stats", host)))
        return stats

    def paths(self, host: int | str = 1) -> list[str]:
        """Just the request targets of :meth:`log`, for terse assertions."""
        return [entry["path"] for entry in self.log(host)]

    def clear_log(self, host: int | str | None = None) -> None:
        """Empty the request log of one host, or of every listener when ``host`` is None."""
        targets = [host] if host is not None else list(self.info["listeners"].values())
        for target in targets:
            if target is not None:
                self.log(target, clear=True)

    def set_page(
        self,
        name: str,
        html: str | bytes,
        status: int = 200,
        host: int | str = 1,
        content_type: str = "text/html; charset=utf-8",
    ) -> str:
        """Serve ``html`` at ``/mutable/<name>`` on ``host``; returns that URL."""
        body = html.encode("utf-8") if isinstance(html, str) else html
        quoted = urllib.parse.quote(name)
        headers = {"X-Status": str(status), "Content-Type": content_type}
        self._call(self.url(f"/_set/{quoted}", host), data=body, headers=headers, method="POST")
        return self.url(f"/mutable/{quoted}", host)

    def set_bench_revision(self, rev: int) -> None:
        """Change every /bench page a little (shared by all listeners); 0 restores them."""
        self._call(self.url(f"/_bench_rev?rev={rev}"), data=b"", method="POST")

    def reset(self, host: int | str | None = None) -> None:
        """Forget logs, retry counters and mutable pages (one host, or every listener)."""
        targets = [host] if host is not None else list(self.info["listeners"].values())
        for target in targets:
            if target is not None:
                self._call(self.url("/_reset", target), data=b"", method="POST")


@pytest.fixture(scope="session")
def mockserver() -> Iterator[MockServer]:
    """One mock server process for the whole session: 127.0.0.1-3 (3 = soft-404) plus TLS."""
    with MockServer() as server:
        yield server
