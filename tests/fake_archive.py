"""A fake web archive on loopback that speaks the real formats, for `rotwatch suggest` tests.

* ``/timemap/link/<URL>``: an RFC 7089 TimeMap, ``application/link-format`` (original,
  self, timegate and one entry per memento, dates with their commas); 404 for unknown URLs.
* ``/timegate/<URL>``: 302 to the memento nearest ``Accept-Datetime``, with a ``Link``
  header naming it; ``/web/<14 digits>/<URL>``: the memento, with ``Memento-Datetime``.
* ``/wayback/available?url=&timestamp=``: the Wayback availability JSON.
* ``/save/<URL>``: a Save-Page-Now style answer, ``Content-Location: /web/<ts>/<URL>``.
* ``/flaky/<rest>``: 503 the first time for each <rest>, then as ``/<rest>``.
* ``/huge/<rest>``: 2 MiB of link-format.
* ``/slow/<rest>``: answers after 3 s.
* ``/bare-timegate/<URL>``: a TimeGate whose 302 has no ``Link`` header (the client must
  ask the memento itself for its ``Memento-Datetime``).

Every request is logged (method, path) in ``server.log``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class FakeArchive(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: str, copies: dict[str, list[datetime]]) -> None:
        super().__init__((address, 0), _Handler)
        self.copies = copies
        self.log: list[tuple[str, str]] = []
        self.failed: set[str] = set()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (the timeout test) is not an error of the fake

    @property
    def base(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")


class _Handler(BaseHTTPRequestHandler):
    server: FakeArchive

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_HEAD(self) -> None:
        self.do_GET()

    def _send(self, status: int, body: bytes = b"", ctype: str = "text/plain",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _memento(self, url: str, at: datetime) -> str:
        return f"{self.server.base}/web/{_ts(at)}/{url}"

    def do_GET(self) -> None:
        path = self.path
        self.server.log.append((self.command, path))
        if path.startswith("/flaky/"):
            rest = path[len("/flaky"):]
            if rest not in self.server.failed:
                self.server.failed.add(rest)
                return self._send(503, b"try later")
            path = rest
        if path.startswith("/slow/"):
            time.sleep(3)
            return self._send(200, b"late")
        if path.startswith("/bare-timegate/"):
            return self._timegate(path[len("/bare-timegate/"):], bare=True)
        if path.startswith("/huge/"):
            return self._send(200, b"<x>; rel=\"memento\", " * 120_000, "application/link-format")
        if path.startswith("/timemap/link/"):
            return self._timemap(path[len("/timemap/link/"):])
        if path.startswith("/timegate/"):
            return self._timegate(path[len("/timegate/"):])
        if path.startswith("/web/"):
            stamp, _, url = path[len("/web/"):].partition("/")
            at = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
            return self._send(200, b"<html>archived</html>", "text/html", {
                "Memento-Datetime": format_datetime(at, usegmt=True),
                "Link": f'<{url}>; rel="original"'})
        if path.startswith("/wayback/available"):
            return self._available(parse_qs(urlsplit(path).query))
        if path.startswith("/save/"):
            url = path[len("/save/"):]
            now = datetime.now(UTC)
            return self._send(200, b"saved", headers={"Content-Location": f"/web/{_ts(now)}/{url}"})
        self._send(404, b"no such route")

    def _timemap(self, url: str) -> None:
        copies = self.server.copies.get(url)
        if not copies:
            return self._send(404, b"not archived")
        base = self.server.base
        lines = [f'<{url}>; rel="original"',
                 f'<{base}/timemap/link/{url}>; rel="self"; type="application/link-format"',
                 f'<{base}/timegate/{url}>; rel="timegate"']
        for n, at in enumerate(sorted(copies)):
            rel = "first memento" if n == 0 else "memento"
            lines.append(f'<{self._memento(url, at)}>; rel="{rel}"; '
                         f'datetime="{format_datetime(at, usegmt=True)}"')
        self._send(200, (",\n".join(lines) + "\n").encode(), "application/link-format")

    def _timegate(self, url: str, bare: bool = False) -> None:
        copies = self.server.copies.get(url)
        if not copies:
            return self._send(404, b"not archived")
        wanted = parsedate_to_datetime(self.headers.get("Accept-Datetime", "")) \
            if self.headers.get("Accept-Datetime") else max(copies)
        best = min(copies, key=lambda at: abs(at - wanted))
        memento = self._memento(url, best)
        if bare:
            return self._send(302, b"", headers={"Location": memento})
        self._send(302, b"", headers={
            "Location": memento, "Vary": "accept-datetime",
            "Link": f'<{url}>; rel="original", <{self.server.base}/timemap/link/{url}>; '
                    f'rel="timemap"; type="application/link-format", <{memento}>; '
                    f'rel="memento"; datetime="{format_datetime(best, usegmt=True)}"'})

    def _available(self, query: dict[str, list[str]]) -> None:
        url = query.get("url", [""])[0]
        copies = self.server.copies.get(url)
        answer: dict[str, object] = {"url": url, "archived_snapshots": {}}
        if copies:
            stamp = query.get("timestamp", [""])[0]
            wanted = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC) \
                if stamp else max(copies)
            best = min(copies, key=lambda at: abs(at - wanted))
            answer["archived_snapshots"] = {"closest": {
                "status": "200", "available": True, "url": self._memento(url, best),
                "timestamp": _ts(best)}}
        self._send(200, json.dumps(answer).encode(), "application/json")


@contextmanager
def fake_archive(copies: dict[str, list[datetime]], address: str = "127.0.0.2"
                 ) -> Iterator[FakeArchive]:
    server = FakeArchive(address, copies)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
