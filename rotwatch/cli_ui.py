"""`rotwatch ui`: the review UI, Datasette serving the live store on loopback.

The store is opened as Datasette opens any mutable file (read connections `mode=ro`, one
write connection for the triage queries), never `immutable`: the file changes under it
while a check runs, and WAL lets the crawl write while the UI reads. Needs the `ui` extra
(`pip install 'rotwatch[ui]'`). See docs/review.md.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import click

from archive.store import Store, StoreError
from rotwatch.cli_common import fail
from rotwatch.cli_triage import default_reviewer
from rotwatch.review_metadata import metadata

DATABASE = "rotwatch"  # Datasette names a database after its file: rotwatch.db


def loopback(host: str) -> bool:
    """Only this machine may reach the UI: it can write triage marks and run SQL."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_app(config: Any) -> Any:
    """The Datasette ASGI app over the store of `config`, with rotwatch's metadata."""
    from datasette.app import Datasette

    md = metadata(DATABASE, default_reviewer(config))
    ds = Datasette(files=[str(config.store_path)], metadata=md,
                   settings={"sql_time_limit_ms": 5000, "default_page_size": 100})
    return ds.app()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Loopback address to listen on (other addresses are refused).")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port, printed at start).")
@click.pass_obj
def ui(obj: Any, host: str, port: int) -> None:
    """Open the store in the browser: problem links, history, and triage marks.

    Serves Datasette on loopback with rotwatch's table descriptions, views and canned
    queries; the "Mark a link" query writes a triage mark, like `rotwatch triage`.
    Runs until Ctrl-C. Needs the ui extra: pip install 'rotwatch[ui]'.

    \b
    Example:
      rotwatch --data-dir ./data ui --port 8001
    """
    if not loopback(host):
        fail(f"--host {host} is not a loopback address: the review UI can write triage "
              "marks, so it only listens on this machine (127.0.0.1, ::1, localhost)")
    try:
        import uvicorn
        from datasette.app import Datasette  # noqa: F401  (a clear error before anything)
    except ImportError:
        fail("rotwatch ui needs the ui extra: pip install 'rotwatch[ui]'")
    path = obj.config.store_path
    if not path.exists():
        fail(f"no store at {path}: run `rotwatch ingest` first (or give --data-dir)")
    try:
        with Store(path):
            pass  # brings the schema (the review views) up to date
    except StoreError as exc:
        fail(exc)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)  # connections wait in the backlog while Datasette starts
    except OSError as exc:
        sock.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    click.echo(f"rotwatch review UI: http://{shown}:{bound}/{DATABASE} (Ctrl-C stops it)",
               err=True)
    server = uvicorn.Server(uvicorn.Config(build_app(obj.config), log_level="warning",
                                           access_log=False))
    server.run(sockets=[sock])
