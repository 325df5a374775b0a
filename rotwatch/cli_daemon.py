"""`rotwatch daemon`: run ingest, check, report and maintenance on cron schedules."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any, Protocol

import click

from core.escaping import json_safe
from core.exitcodes import exit_code
from rotwatch.config import Config

# Attributes every LogRecord has; anything else came in through `extra=` and is kept.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message",
                                                                                   "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for journald/Loki/jq; `extra=` fields become keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # Messages quote URLs and page text: no raw C1 or bidi characters in the journal.
        return json_safe(json.dumps(entry, default=str, ensure_ascii=False))


def configure_logging(fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    # APScheduler's "Running job …" lines repeat what our own job lines say; keep its
    # warnings (misfires, skipped instances) and errors.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


class _HasConfig(Protocol):
    config: Config


@click.command()
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Log lines as text, or as JSON objects (one a line).")
@click.option("--allow-private", is_flag=True,
              help="Let the check job reach loopback/private addresses (passed to "
                   "`rotwatch check`).")
@click.option("--run-now", is_flag=True,
              help="Also run every job once at start (ingest, check, report, maintenance).")
@click.pass_obj
def daemon(obj: _HasConfig, log_format: str, allow_private: bool, run_now: bool) -> None:
    """Run ingest, check, report and maintenance on the [daemon] cron schedules.

    Stops on SIGTERM or SIGINT: a running crawl gets SIGTERM and
    shutdown_grace_seconds to finish before SIGKILL. Writes a heartbeat to the
    store (`rotwatch status`) and, under systemd Type=notify, speaks sd_notify
    (ready, watchdog, status line). See docs/daemon.md.

    \b
    Example:
      rotwatch --config rotwatch.toml daemon --log-format json --run-now
    """
    configure_logging(log_format)
    config = obj.config
    # APScheduler is loaded only by the command that needs it.
    from scheduler.daemon import Daemon, DaemonError, DaemonOptions, validate
    from scheduler.notify import take_notify_environment

    # Read once and removed, so the children it starts do not notify in its name.
    notify = take_notify_environment(os.environ, os.getpid())

    try:
        validate(config)
    except DaemonError as exc:
        click.echo(f"rotwatch: {exc}", err=True)
        sys.exit(exit_code(error=True))
    has_report = has_command(click.get_current_context(), "report")
    runner = Daemon(config, DaemonOptions(allow_private=allow_private, run_now=run_now,
                                          has_report=has_report, notify=notify))
    clean = runner.run()
    logging.shutdown()
    if not clean:
        # A job thread is stuck (e.g. a store write still retrying); the interpreter would
        # wait for it at exit, so leave now: the kernel releases its locks.
        os._exit(exit_code())
    sys.exit(exit_code())


def has_command(ctx: click.Context, name: str) -> bool:
    """Does this rotwatch have command `name` (the root group loads commands lazily: its
    `commands` holds only those looked up so far)?"""
    root = ctx.find_root()
    return isinstance(root.command, click.Group) and name in root.command.list_commands(root)
