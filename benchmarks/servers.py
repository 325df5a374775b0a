"""Which target server a benchmark runs against: the Python mock server or nginx.

``--server mock`` (tests/mockserver.py, the default of the earlier figures) or ``--server
nginx`` (benchmarks/nginx_server.py: the same URLs, statuses, pages and validators at a
fraction of the CPU). Either way the benchmark gets an object with ``url(path, host)`` and
``usage()`` (the server's CPU seconds and requests so far), so every result can state
what the server itself cost per request.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from typing import Protocol
from urllib.request import urlopen

import psutil

from benchmarks.bounds import LoggedRequest
from benchmarks.nginx_server import NginxServer, ServerUsage
from tests.conftest import MockServer

SERVERS = ("nginx", "mock")


class TargetServer(Protocol):
    """What a benchmark needs of its target server."""

    def url(self, path: str = "/", host: int = 1) -> str: ...
    def usage(self) -> ServerUsage: ...
    def requests_since(self) -> list[LoggedRequest]: ...


class MockTarget:
    """The mock server with the interface of NginxServer (url, usage)."""

    def __init__(self, mock: MockServer, delay_ms: int = 0) -> None:
        self.mock = mock
        self.delay_s = delay_ms / 1000

    def url(self, path: str = "/", host: int = 1) -> str:
        return self.mock.url(path, host=host)

    def usage(self) -> ServerUsage:
        times = psutil.Process(self.mock.pid).cpu_times()
        requests = 0
        for base in self.mock.hosts:
            # /_stats is a control route: not counted in "requests" itself.
            with urlopen(base + "/_stats", timeout=10) as answer:
                requests += int(json.loads(answer.read())["requests"])
        return ServerUsage(times.user + times.system, requests)

    def requests_since(self) -> list[LoggedRequest]:
        """The requests every listener logged since the last call (each log cleared).
        The mock logs a request's arrival: its end is taken as arrival + the delay."""
        out: list[LoggedRequest] = []
        for base in self.mock.hosts:
            with urlopen(base + "/_log?clear=1", timeout=30) as answer:
                entries = json.loads(answer.read())
            host = base.split("//", 1)[1].rsplit(":", 1)[0]
            for e in entries:
                path = str(e["path"])
                took = self.delay_s if path.startswith("/bench/") else 0.0
                out.append(LoggedRequest(host, path, int(e["status"] or 0),
                                         float(e["time"]), float(e["time"]) + took))
        return out


@contextlib.contextmanager
def target_server(kind: str, pages: Sequence[tuple[int, str]], *, hosts: int = 20,
                  delay_ms: int = 50, page_kb: int = 0, validators: bool = True,
                  max_seconds: float = 3600.0,
                  cpus: str | None = None) -> Iterator[TargetServer]:
    """A running target server for ``pages`` ((status, ident) of each /bench URL).

    ``cpus`` pins nginx (taskset); the mock server is not pinned.
    """
    if kind == "nginx":
        with NginxServer(pages, hosts=hosts, delay_ms=delay_ms, page_kb=page_kb,
                         cpus=cpus) as nginx:
            yield nginx
        return
    if kind != "mock":
        raise ValueError(f"unknown server {kind!r}: one of {', '.join(SERVERS)}")
    extra = ["--validators", "on"] if validators else []
    with MockServer(hosts=[f"127.0.0.2-{hosts + 1}"], delay_ms=delay_ms, tls=False, bomb_mb=0,
                    max_seconds=max_seconds, extra_args=extra) as mock:
        yield MockTarget(mock, delay_ms)
