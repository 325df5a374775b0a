"""`rotwatch links`: the recorded links, as a table that fits the terminal, JSON or CSV."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import PurePath
from typing import Any

import click
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from archive.store import LinkRow, Store, StoreBusyError, StoreError
from core.documents import Role
from core.escaping import one_line
from core.exitcodes import exit_code
from core.policy import State
from rotwatch.cli_common import echo_err, empty_store_hint
from rotwatch.output import write_rows

LINK_COLUMNS = ("seed", "role", "url", "anchor_text", "context", "checkable", "state")
# Table columns by the terminal width they need, most useful first: (name, width it may
# take at most or 0 for "the rest", from which terminal width on it is shown).
_TABLE = (("state", 9, 0), ("role", 14, 0), ("url", 0, 0), ("anchor_text", 30, 100),
          ("seed", 24, 120), ("context", 40, 160), ("checkable", 9, 180))


def table_columns(width: int) -> list[tuple[str, int]]:
    """The columns shown in a terminal this wide, each with its maximum width."""
    return [(name, most) for name, most, from_width in _TABLE if width >= from_width]


def _cell(row: LinkRow, name: str) -> str:
    if name == "seed":
        return PurePath(row.seed).name  # the path is in --format json/csv
    value = getattr(row, name)
    return "" if value is None else str(value)


def column_widths(columns: list[tuple[str, int]], natural: dict[str, int],
                  width: int) -> dict[str, int]:
    """Each column's width: no wider than its content; the fixed ones at most their
    maximum, the URL the rest; space left over widens the text columns back."""
    gaps = 2 * (len(columns) - 1)
    sized = {name: min(natural[name], most) for name, most in columns if most}
    rest = width - gaps - sum(sized.values())
    sized["url"] = min(natural["url"], max(rest, 20))
    spare = width - gaps - sum(sized.values())
    for name in ("anchor_text", "context", "seed"):
        if name in sized and spare > 0:
            grow = min(spare, natural[name] - sized[name])
            sized[name] += grow
            spare -= grow
    return sized


def write_table(rows: Iterable[LinkRow], console: Console) -> int:
    """One line per link, truncated with an ellipsis, never wrapped letter by letter."""
    columns = table_columns(console.width)
    # Text, not str: rich would read "[link=…]" in a str as its own markup.
    cells = [[Text(one_line(_cell(row, name))) for name, _ in columns] for row in rows]
    natural = {name: max([len(name), *(cell_len(r[i].plain) for r in cells)])
               for i, (name, _) in enumerate(columns)}
    widths = column_widths(columns, natural, console.width)
    table = Table(show_lines=False, expand=False, pad_edge=False, box=None, padding=(0, 1))
    for name, _ in columns:
        table.add_column(name, overflow="ellipsis", no_wrap=True, width=widths[name])
    for line in cells:
        table.add_row(*line)
    console.print(table)
    return len(cells)


@click.command()
@click.option("--seed", "seeds", multiple=True, help="Only seeds whose path contains this "
              "text (repeatable).")
@click.option("--role", "roles", multiple=True, type=click.Choice([r.value for r in Role]),
              help="Only links with this role (repeatable).")
@click.option("--state", "states", multiple=True, type=click.Choice([s.value for s in State]),
              help="Only links whose target is in this state (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="Output format; the table fits the terminal's width "
              "(truncated with …), JSON and CSV have every field.")
@click.option("--removed", is_flag=True, help="Also list links that left their article.")
@click.pass_obj
def links(obj: Any, seeds: tuple[str, ...], roles: tuple[str, ...], states: tuple[str, ...],
          fmt: str, removed: bool) -> None:
    """List the recorded links with their seed, role, state and context.

    \b
    Example:
      rotwatch links --role primary-source --state failing
      rotwatch links --format json
    """
    try:
        with Store(obj.config.store_path) as store:
            rows = (row for row in store.links(seeds=seeds, roles=roles,
                                               include_removed=removed)
                    if not states or row.state in states)
            if fmt == "table":
                count = write_table(rows, Console(soft_wrap=False))
            else:
                count = write_rows((asdict(row) for row in rows), fmt, LINK_COLUMNS)
    except StoreError as exc:
        echo_err(f"rotwatch: {exc}")
        sys.exit(exit_code(busy=isinstance(exc, StoreBusyError), error=True))
    if fmt == "table":
        click.echo(f"{count} link(s)", err=True)
    if not count and not (seeds or roles or states):
        echo_err(empty_store_hint(obj.config, "links"))
