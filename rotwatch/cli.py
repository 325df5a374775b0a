"""The rotwatch command line: a thin layer over the Python API in rotwatch/, archive/, …"""

from __future__ import annotations

from pathlib import Path

import click

from core.exitcodes import exit_code
from core.triggers import EXTERNAL, Trigger
from rotwatch import __version__
from rotwatch.cli_common import LazyGroup, echo_err
from rotwatch.config import Config, ConfigError, load_config


class Context:
    def __init__(self, config: Config, trigger: Trigger | None = None) -> None:
        self.config = config
        self.trigger = trigger  # who started this command, when not a person (--trigger)

    def trigger_or(self, default: Trigger) -> str:
        return (self.trigger or default).value


# Every command: its name and where it is defined ("module:attribute"), one line each.
# A command's module is imported only when that command runs (or help lists it), so a
# `rotwatch check` does not import export's, the report's or the UI's modules. Imports
# that are heavy or only some runs need (parsers, APScheduler) stay inside the functions.
COMMANDS: dict[str, str] = {
    "ingest": "rotwatch.cli_ingest:ingest",
    "links": "rotwatch.cli_links:links",
    "status": "rotwatch.cli_status:status",
    "check": "rotwatch.cli_check:check",
    "run": "rotwatch.cli_check:run",
    "report": "rotwatch.cli_report:report",
    "export": "rotwatch.cli_export:export",
    "verify": "rotwatch.cli_export:verify",
    "show": "rotwatch.cli_show:show",
    "daemon": "rotwatch.cli_daemon:daemon",
    "triage": "rotwatch.cli_triage:triage",
    "ui": "rotwatch.cli_ui:ui",
    "suggest": "rotwatch.cli_suggest:suggest",
}


# UsageGroup: usage errors exit 64, not click's 2 (which means "links need attention").
@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             lazy=COMMANDS)
@click.version_option(__version__, prog_name="rotwatch")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              envvar="ROTWATCH_CONFIG", help="TOML file with every setting (see docs/config.md).")
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where the store and WARC files live. Also $ROTWATCH_DATA_DIR; "
                   "default ~/.local/share/rotwatch.")
@click.option("--trigger", type=click.Choice([t.value for t in EXTERNAL]),
              envvar="ROTWATCH_TRIGGER", help="Who started this, as runs record it: the daemon "
              "and the shipped cron and timer units say so (also $ROTWATCH_TRIGGER).")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, data_dir: Path | None,
        trigger: str | None) -> None:
    """Keep the links inside published articles alive and on record.

    \b
    Example:
      rotwatch --data-dir ./data run seeds/
    """
    try:
        ctx.obj = Context(load_config(config_path, data_dir),
                          Trigger(trigger) if trigger else None)
    except ConfigError as exc:
        echo_err(f"rotwatch: {exc}")
        ctx.exit(exit_code(error=True))


def main() -> None:
    cli(prog_name="rotwatch")
