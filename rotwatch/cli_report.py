"""`rotwatch report`: the dead-link report command over the store.

Kept apart from rotwatch/cli.py so that module stays about crawling; its root group lists
it (`COMMANDS`); `export` and `verify` are in rotwatch/cli_export.py. Exit codes come
from core.exitcodes.exit_code.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from archive.store import Store, StoreError
from archive.warc.atomic import OutputError, atomic_output
from core.exitcodes import FailOn, exit_code, needs_attention
from rotwatch.cli_common import echo_err, empty_store_hint, fail, fail_on_option
from rotwatch.report import ALL_STATES, RENDERERS, STREAMERS, Report, stream_report
from rotwatch.timezone import UnknownZone, resolve_zone

_SEED_HELP = "Only seeds whose path contains this text (repeatable)."


_EXTENSIONS = {"text": "txt", "markdown": "md", "html": "html", "csv": "csv",
               "json": "json", "junit": "xml"}


def _write(target: Path, built: Report, fmt: str) -> None:
    """Stream one format into `target`, atomically: a reader never sees half a report."""
    try:
        with atomic_output(target) as fh:
            for chunk in STREAMERS[fmt](built):
                fh.write(chunk.encode("utf-8"))
    except OutputError as exc:
        fail(exc)
    click.echo(f"wrote {built.link_total} link(s) to {target}", err=True)


def _open(store: Store, config: Any, states: tuple[str, ...], seeds: tuple[str, ...]
          ) -> Report:
    try:
        zone, name = resolve_zone(config.report.timezone)
    except UnknownZone as exc:
        fail(f"[report] timezone: {exc}")
    return stream_report(store, datetime.now(UTC), states=states or None, seeds=seeds,
                         zone=zone, timezone=name)


def _attention(store: Store, built: Report, seeds: tuple[str, ...],
               fail_on: frozenset[FailOn]) -> bool:
    """Exit 2's one definition (as `check` and `run`): a selected link in a --fail-on state
    that no reviewer's mark in effect silences."""
    silenced = Counter(store.silenced_targets(seeds).values())
    left = {state: n - silenced.get(state, 0) for state, n in built.totals}
    return needs_attention(left, fail_on) > 0


def _write_configured(store: Store, config: Any, states: tuple[str, ...],
                      seeds: tuple[str, ...], fail_on: frozenset[FailOn]) -> bool:
    """Every configured format into [report] directory; True when a link needs attention."""
    directory = Path(config.report.directory).expanduser()
    if not directory.is_absolute():
        directory = config.data_dir / directory
    attention = False
    for name in config.report.formats:
        if name not in STREAMERS:
            fail(f"[report] formats: unknown format {name!r} (known: {', '.join(STREAMERS)})")
        built = _open(store, config, states, seeds)  # each format reads the store anew
        _write(directory / f"rotwatch-report.{_EXTENSIONS[name]}", built, name)
        attention = _attention(store, built, seeds, fail_on)
    return attention


@click.command()
@click.option("--format", "fmt", type=click.Choice(list(RENDERERS)), default="text",
              show_default=True, help="text for a terminal, markdown for an issue, html for "
              "one shareable page, csv for spreadsheets, json for scripts, junit for CI.")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the report to FILE instead of standard output.")
@click.option("--state", "states", multiple=True,
              type=click.Choice(list(ALL_STATES)),
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
            if configured:
                attention = _write_configured(store, obj.config, states, seeds, fail_on)
            else:
                built = _open(store, obj.config, states, seeds)
                if output is None:
                    for chunk in STREAMERS[fmt](built):
                        click.echo(chunk, nl=False)
                else:
                    _write(output, built, fmt)
                attention = _attention(store, built, seeds, fail_on)
                if not built.totals and not seeds:
                    echo_err(empty_store_hint(obj.config, "checked links"))
    except StoreError as exc:
        fail(exc)
    sys.exit(exit_code(attention=attention))
