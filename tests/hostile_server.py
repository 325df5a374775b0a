"""A loopback server whose every route is a hostile case, written as raw bytes (tests only).

Run it from the repository root::

    python -m tests.hostile_server [--max-seconds 600] [--bomb-mb 200] [--robots-mb 50]
        [--robots-cut 1000000]

Raw asyncio streams, not an HTTP library: many cases are not valid HTTP. Each case has a
listener of its own on 127.0.7.<n> (a separate host: no case queues behind another, and
robots.txt is per host) and is served at ``/hostile/<case>``. When every listener is bound
the server prints ONE JSON line (``pid``, ``marker``, ``secret_file``, ``cases``: name →
URL) and runs until its stdin closes, SIGTERM/SIGINT, or ``--max-seconds``. Every
connection closes itself after ``CONNECTION_LIFETIME`` seconds, so no loop runs forever.

The secret ``marker`` is in a temp file that ``redirect_file`` points at, base64-encoded in
``redirect_data``'s URL, and in the banner of the canary listener that ``redirect_ftp`` and
``redirect_gopher`` point at: a client that follows any of them can leak it.
``GET /_canary`` (any listener) answers ``{"connections": n}``: how often the canary was
reached at all.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.hostile_payloads import MIB, Bombs, fill_rules, head, page, redirect
from tests.mockserver import _stdin_is_watchable, article_html, zh_article_html

CONNECTION_LIFETIME = 60.0  # seconds; bounds every endless case on the server side
HEAD_LIMIT = 65536
CANARY_ADDRESS = "127.0.7.250"
ROBOTS_BINARY_BYTES = 256 * 1024
# Case name → the path its URL starts at (most are /hostile/<name>).
CASES: dict[str, str] = {name: f"/hostile/{name}" for name in (
    "redirect_file", "redirect_ftp", "redirect_data", "redirect_gopher", "loop",
    "gzip_bomb", "deflate_bomb", "br_bomb", "zstd_bomb", "endless_chunked", "drip",
    "endless_headers", "endless_continuation", "many_headers", "bad_status",
    "short_length", "long_length", "huge_length", "lying_charset", "tls_stall",
    "retry_storm", "robots_huge", "robots_binary")}
CASES["chain"] = "/hostile/chain/0"
CASES["slow_chain"] = "/hostile/slow_chain/0"
SLOW_HOP_SECONDS = 3.0  # under the test's 4 s timeout: only a deadline per target stops it
CASES["loop"] = "/hostile/loop/a"


Writer = asyncio.StreamWriter


class Hostile:
    """State shared by every listener, and one method per case (``c_<case>``)."""

    def __init__(self, args: argparse.Namespace, secret_dir: Path) -> None:
        self.marker = f"ROTWATCH-SECRET-{uuid.uuid4().hex}"
        self.secret_file = secret_dir / "secret.txt"
        self.secret_file.write_text(f"root:x:0:0:{self.marker}:/root:/bin/sh\n")
        self.bombs = Bombs(args.bomb_mb)
        self.robots_bytes = args.robots_mb * MIB
        self.robots_cut = args.robots_cut
        self.canary_url = ""
        self.canary_connections = 0

    # ---- the cases -------------------------------------------------------------------------
    async def c_redirect_file(self, path: str, w: Writer) -> None:
        w.write(redirect(self.secret_file.as_uri()))

    async def c_redirect_ftp(self, path: str, w: Writer) -> None:
        w.write(redirect(f"ftp://{self.canary_url}/secret.txt"))

    async def c_redirect_gopher(self, path: str, w: Writer) -> None:
        w.write(redirect(f"gopher://{self.canary_url}/0secret"))

    async def c_redirect_data(self, path: str, w: Writer) -> None:
        # base64: the marker itself must not appear in the redirect that names the URL.
        encoded = base64.b64encode(self.marker.encode()).decode()
        w.write(redirect(f"data:text/plain;base64,{encoded}"))

    async def c_chain(self, path: str, w: Writer) -> None:
        step = path.rsplit("/", 1)[-1]
        w.write(redirect(f"/hostile/chain/{int(step) + 1 if step.isdigit() else 0}"))

    async def c_slow_chain(self, path: str, w: Writer) -> None:
        await asyncio.sleep(SLOW_HOP_SECONDS)
        step = path.rsplit("/", 1)[-1]
        w.write(redirect(f"/hostile/slow_chain/{int(step) + 1 if step.isdigit() else 0}"))

    async def c_loop(self, path: str, w: Writer) -> None:
        w.write(redirect("/hostile/loop/b" if path.endswith("/a") else "/hostile/loop/a"))

    async def c_gzip_bomb(self, path: str, w: Writer) -> None:
        coding = path.split("/")[2].removesuffix("_bomb")  # the same for every coding
        body = await self.bombs.get(coding)
        w.write(head("200 OK", ("Content-Type", "text/html"), ("Content-Encoding", coding),
                     ("Content-Length", len(body)), ("Connection", "close")) + body)

    c_deflate_bomb = c_br_bomb = c_zstd_bomb = c_gzip_bomb

    async def c_endless_chunked(self, path: str, w: Writer) -> None:
        w.write(head("200 OK", ("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")))
        chunk = b"<p>" + b"endless " * 8190 + b"</p>"
        while True:  # ends when the client goes (drain raises) or the connection lifetime
            w.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await w.drain()

    async def c_drip(self, path: str, w: Writer) -> None:
        w.write(head("200 OK", ("Content-Type", "text/html"), ("Content-Length", 100_000)))
        for byte in (b"<p>" + b"drip " * 20_000)[:100_000]:
            w.write(bytes([byte]))
            await w.drain()
            await asyncio.sleep(1.0)

    async def c_endless_headers(self, path: str, w: Writer) -> None:
        w.write(b"HTTP/1.1 200 OK\r\n")
        n = 0
        while True:  # like every endless case: until the client goes or the lifetime ends
            n += 1
            w.write(b"X-Never-Ends-%d: %d\r\n" % (n, n))
            await w.drain()
            await asyncio.sleep(0.005)

    async def c_endless_continuation(self, path: str, w: Writer) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nX-Folded: start\r\n")
        while True:  # obsolete line folding: every line extends the same header
            w.write(b"  and it goes on\r\n")
            await w.drain()
            await asyncio.sleep(0.005)

    async def c_many_headers(self, path: str, w: Writer) -> None:
        body = article_html(path).encode()
        lines = b"".join(b"X-Header-%d: %d\r\n" % (n, n) for n in range(20_000))
        w.write(b"HTTP/1.1 200 OK\r\n" + lines + page(body).split(b"\r\n", 1)[1])

    async def c_bad_status(self, path: str, w: Writer) -> None:
        w.write(b"HTTP/1.1 two-hundred Fine\r\nContent-Length: 5\r\n\r\nhello")

    async def c_short_length(self, path: str, w: Writer) -> None:
        body = article_html(path).encode()
        w.write(head("200 OK", ("Content-Type", "text/html"), ("Content-Length", 10)) + body)

    async def c_long_length(self, path: str, w: Writer) -> None:
        body = article_html(path).encode()
        w.write(head("200 OK", ("Content-Type", "text/html"),
                     ("Content-Length", len(body) * 50)) + body)

    async def c_huge_length(self, path: str, w: Writer) -> None:
        body = article_html(path).encode()
        w.write(head("200 OK", ("Content-Type", "text/html"),
                     ("Content-Length", 10**15)) + body)

    async def c_lying_charset(self, path: str, w: Writer) -> None:
        w.write(page(zh_article_html(path).encode("gb18030")))

    async def c_retry_storm(self, path: str, w: Writer) -> None:
        body = b"<title>Too Many Requests</title><p>slow down</p>"
        w.write(head("429 Too Many Requests", ("Retry-After", 999999999),
                     ("Content-Length", len(body)), ("Connection", "close")) + body)

    async def c_article(self, path: str, w: Writer) -> None:
        w.write(page(article_html(path).encode()))

    c_robots_huge = c_robots_binary = c_article

    # ---- robots.txt per listener -----------------------------------------------------------
    async def robots(self, case: str, w: Writer) -> None:
        if case == "robots_binary":
            garbage = random.Random(9).randbytes(ROBOTS_BINARY_BYTES)
            w.write(page(garbage, "text/plain"))
        elif case == "robots_huge":
            await self.huge_robots(w)
        else:
            w.write(page(b"User-agent: *\nDisallow: /private/\n", "text/plain"))

    async def huge_robots(self, w: Writer) -> None:
        """Valid rules, far too many; the line at the client's size cap reads "Disallow: /".

        The first ``robots_cut`` bytes are whole lines; after a pause (so the client has read
        them) comes "Disallow: /" alone, then the rest of that line and more rules. A client
        that cuts at the cap and obeys the partial last line denies itself the whole host.
        """
        w.write(head("200 OK", ("Content-Type", "text/plain"),
                     ("Content-Length", self.robots_bytes), ("Connection", "close")))
        first = b"User-agent: *\nDisallow: /private/\n"
        w.write(first)
        await fill_rules(w, self.robots_cut - len(first))
        # Long enough for a busy client to read all of it, short of its 4 s timeout.
        await asyncio.sleep(1.5)
        for piece in (b"Disallow: /", b"never/\n"):
            w.write(piece)
            await w.drain()
            await asyncio.sleep(1.0)
        await fill_rules(w, self.robots_bytes - self.robots_cut - 18)

    # ---- connections -----------------------------------------------------------------------
    async def serve(self, case: str, r: asyncio.StreamReader, w: Writer) -> None:
        request = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10.0)
        parts = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        path = parts[1].split("?", 1)[0] if len(parts) == 3 else "/"
        name = path.split("/")[2] if path.startswith("/hostile/") else ""
        handler = getattr(self, f"c_{name}", None) if name in CASES else None
        if path == "/robots.txt":
            await self.robots(case, w)
        elif path == "/_canary":
            w.write(page(json.dumps({"connections": self.canary_connections}).encode(),
                         "application/json"))
        elif handler is not None:
            await handler(path, w)
        else:
            w.write(page(b"<title>Not Found</title><p>No such page.</p>", status="404 Not Found"))
        await w.drain()

    async def canary(self, r: asyncio.StreamReader, w: Writer) -> None:
        self.canary_connections += 1
        w.write(b"220 " + self.marker.encode() + b"\r\n")
        await w.drain()
        await asyncio.sleep(2.0)

    @staticmethod
    async def stall(r: asyncio.StreamReader, w: Writer) -> None:
        await asyncio.sleep(CONNECTION_LIFETIME)  # a TLS ClientHello that is never answered


def bounded(handler: Callable[[asyncio.StreamReader, Writer], Awaitable[None]]) -> Callable[
        [asyncio.StreamReader, Writer], Awaitable[None]]:
    """Every connection ends within CONNECTION_LIFETIME, and a client leaving is no error."""
    async def run(r: asyncio.StreamReader, w: Writer) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(handler(r, w), CONNECTION_LIFETIME)
        w.close()
        with contextlib.suppress(Exception):
            await w.wait_closed()
    return run


async def main_async(args: argparse.Namespace, secret_dir: Path) -> None:
    hostile = Hostile(args, secret_dir)
    threading.Thread(target=hostile.bombs.build, name="bombs", daemon=True).start()
    canary = await asyncio.start_server(bounded(hostile.canary), CANARY_ADDRESS, 0)
    hostile.canary_url = f"{CANARY_ADDRESS}:{canary.sockets[0].getsockname()[1]}"
    servers, cases = [canary], {}
    for n, (case, path) in enumerate(CASES.items(), start=1):
        address = f"127.0.7.{n}"
        if case == "tls_stall":
            server = await asyncio.start_server(bounded(hostile.stall), address, 0)
        else:
            def serve(r: asyncio.StreamReader, w: Writer, case: str = case) -> Awaitable[None]:
                return hostile.serve(case, r, w)
            server = await asyncio.start_server(bounded(serve), address, 0, limit=HEAD_LIMIT)
        scheme = "https" if case == "tls_stall" else "http"
        cases[case] = f"{scheme}://{address}:{server.sockets[0].getsockname()[1]}{path}"
        servers.append(server)
    print(json.dumps({"pid": os.getpid(), "marker": hostile.marker, "cases": cases,
                      "secret_file": str(hostile.secret_file)}), flush=True)
    sys.stdout = sys.stderr  # nothing else may reach the pipe the parent stopped reading

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if _stdin_is_watchable():  # a pipe: the parent holds the other end
        def watch_stdin() -> None:
            with contextlib.suppress(OSError):
                while os.read(0, 65536):
                    pass
            loop.call_soon_threadsafe(stop.set)
        threading.Thread(target=watch_stdin, daemon=True).start()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), args.max_seconds)
    for server in servers:
        server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.hostile_server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-seconds", type=float, default=600.0, help="exit after this long")
    parser.add_argument("--bomb-mb", type=int, default=200, help="inflated size of each bomb")
    parser.add_argument("--robots-mb", type=int, default=50, help="size of the huge robots.txt")
    parser.add_argument("--robots-cut", type=int, default=1_000_000,
                        help="the client's size cap in bytes (max_mb = 1 is 1,000,000)")
    args = parser.parse_args(argv)
    secret_dir = Path(tempfile.mkdtemp(prefix="rotwatch-hostile-"))
    try:
        asyncio.run(main_async(args, secret_dir))
    finally:
        shutil.rmtree(secret_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
