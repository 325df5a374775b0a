"""`rotwatch suggest`: look up web-archive copies of the links in trouble (off by default).

The only command that talks to web archives; `report` reads what it cached. See
docs/review.md and rotwatch/suggest.py.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import click

from archive.store import Store, StoreError
from core.exitcodes import exit_code
from rotwatch.cli_common import fail
from rotwatch.report import PROBLEM_STATES
from rotwatch.suggest import fill_cache

# Links worth an archived copy: those a reader cannot follow, or that changed since cited.
DEFAULT_STATES = ("dead", "failing", "changed")


@click.command()
@click.option("--seed", "seeds", multiple=True,
              help="Only seeds whose path contains this text (repeatable).")
@click.option("--state", "states", multiple=True, type=click.Choice(PROBLEM_STATES),
              help="Links in this state (repeatable); default: dead, failing, changed.")
@click.option("--save", is_flag=True, help="Also ask [suggest] save_endpoint to capture "
              "alive cited pages (at most [suggest] max_saves, paced).")
@click.pass_obj
def suggest(obj: Any, seeds: tuple[str, ...], states: tuple[str, ...], save: bool) -> None:
    """Find web-archive copies near each citation date for the links in trouble.

    Asks the archives configured in [suggest] (none by default), politely and within
    a count and time budget, and caches the answers in the store; reports show the
    nearest copy as the link's suggested fix. Exits 1 when nothing is configured or
    every question failed.

    \b
    Example:
      rotwatch --config rotwatch.toml suggest --seed blinken
    """
    options = obj.config.suggest
    if not (options.memento_timemap or options.memento_timegate
            or options.wayback_availability or (save and options.save_endpoint)):
        fail("no web archive is configured: set [suggest] memento_timemap, memento_timegate "
              "or wayback_availability (see docs/review.md); look-ups are off by default")
    if save and not options.save_endpoint:
        fail("--save needs [suggest] save_endpoint (off by default)")
    try:
        with Store(obj.config.store_path) as store:
            summary = fill_cache(store, options, datetime.now(UTC), states or DEFAULT_STATES,
                                 seeds, save=save)
    except StoreError as exc:
        fail(exc)
    for problem in summary.errors[:20] + summary.save_errors[:20]:
        click.echo(f"rotwatch: {problem}", err=True)
    left = f", {summary.left} left for the next run (budget)" if summary.left else ""
    saved = f"; {summary.saved} capture(s) requested" if save else ""
    click.echo(f"asked {summary.asked} question(s): {summary.found} copy(ies) found, "
               f"{summary.missing} none, {len(summary.errors)} failed; {summary.cached} "
               f"cached{left}{saved}", err=True)
    failed = bool(summary.errors) and not (summary.found or summary.missing)
    sys.exit(exit_code(error=failed or bool(save and summary.save_errors and not summary.saved)))
