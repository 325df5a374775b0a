"""`rotwatch report`: the dead-link report command over the store.

Kept apart from rotwatch/cli.py so that module stays about crawling; its root group lists
it (`COMMANDS`); `export` and `verify` are in rotwatch/cli_export.py. Exit codes come
from core.exitcodes.exit_code.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from archive.store import Store, StoreBusyError, StoreError
from archive.warc.atomic import OutputError, write_text_atomic
from core.escaping import one_line
from core.exitcodes import FailOn, exit_code, needs_attention
from rotwatch.cli_common import echo_err, empty_store_hint, fail_on_option
from rotwatch.report import RENDERERS, build_report

_SEED_HELP = "Only seeds whose path contains this text (repeatable)."


def _fail(problem: str | Exception) -> NoReturn:
    """One line on stderr; exit 3 when the store was busy, else 1."""
    click.echo(f"rotwatch: {one_line(str(problem))}", err=True)
    sys.exit(exit_code(busy=isinstance(problem, StoreBusyError), error=True))


_EXTENSIONS = {"text": "txt", "markdown": "md", "html": "html", "csv": "csv",
               "json": "json", "junit": "xml"}


def _write_configured(config: Any, built: Any) -> None:
    directory = Path(config.report.directory).expanduser()
    if not directory.is_absolute():
        directory = config.data_dir / directory
    for name in config.report.formats:
        if name not in RENDERERS:
            _fail(f"[report] formats: unknown format {name!r} (known: {', '.join(RENDERERS)})")
        target = directory / f"rotwatch-report.{_EXTENSIONS[name]}"
        try:
            write_text_atomic(target, RENDERERS[name](built))  # never half a report
        except OutputError as exc:
            _fail(exc)
        click.echo(f"wrote {len(built.links)} link(s) to {target}", err=True)


@click.command()
@click.option("--format", "fmt", type=click.Choice(list(RENDERERS)), default="text",
              show_default=True, help="text for a terminal, markdown for an issue, html for "
              "one shareable page, csv for spreadsheets, json for scripts, junit for CI.")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the report to FILE instead of standard output.")
@click.option("--state", "states", multiple=True,
              type=click.Choice(["dead", "failing", "changed", "moved", "recovered", "blocked",
                                 "alive", "new"]),
              help="Only links whose target is in this state (repeatable). Default: dead, "
                   "failing, changed, moved, recovered and blocked.")
@click.option("--seed", "seeds", multiple=True, help=_SEED_HELP)
@click.option("--configured", is_flag=True,
              help="Write one file per format listed in the config's [report] formats into "
                   "its directory (relative paths are under the data dir); the daemon's "
                   "report job uses this.")
@fail_on_option
@click.pass_obj
def report(obj: Any, fmt: str, output: Path | None, states: tuple[str, ...],
           seeds: tuple[str, ...], configured: bool, fail_on: frozenset[FailOn]) -> None:
    """Report the links that need attention, grouped by the article that cites them.

    Exits 2 when a link of the selected seeds is in a --fail-on state (default dead or
    failing; as `check` and `run`), 0 otherwise, 1 on error, 64 on a usage error.

    \b
    Example:
      rotwatch report --format html --output reports/links.html
      rotwatch report --state dead --seed blinken --format junit -o junit.xml
      rotwatch report --configured
    """
    try:
        with Store(obj.config.store_path) as store:
            built = build_report(store, datetime.now(UTC), states=states or None,
                                 seeds=seeds)
    except StoreError as exc:
        _fail(exc)
    attention = needs_attention(dict(built.totals), fail_on) > 0
    if not built.totals and not seeds:
        echo_err(empty_store_hint(obj.config, "checked links"))
    if configured:
        _write_configured(obj.config, built)
        sys.exit(exit_code(attention=attention))
    text = RENDERERS[fmt](built)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            write_text_atomic(output, text)
        except OutputError as exc:
            _fail(exc)
        click.echo(f"wrote {len(built.links)} link(s) to {output}", err=True)
    sys.exit(exit_code(attention=attention))
