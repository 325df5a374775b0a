"""Writing rows as a terminal table, JSON or CSV (shared by several commands).

Row values come from seeds and servers: each format escapes them with core.escaping
(the table shows them as literal text, never as rich markup or terminal escapes; CSV
cells never start a formula; JSON keeps the data but escapes every control character).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from core.escaping import csv_cell, json_safe, one_line


def write_rows(rows: Iterable[dict[str, Any]], fmt: str, columns: Sequence[str],
               *, title: str | None = None, out: TextIO | None = None) -> int:
    """Write rows; returns how many were written. JSON is one array of objects."""
    out = out or sys.stdout
    count = 0
    if fmt == "json":
        out.write("[")
        for count, row in enumerate(rows, start=1):
            dumped = json_safe(json.dumps(row, ensure_ascii=False))
            out.write(("," if count > 1 else "") + "\n  " + dumped)
        out.write("\n]\n" if count else "]\n")
        return count
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: csv_cell(row.get(c)) for c in columns})
            count += 1
        return count
    table = Table(title=title, show_lines=False, expand=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        # Text, not str: rich would read "[link=…]" or "[/x]" in a str as its own markup.
        table.add_row(*(Text(one_line(row.get(c))) for c in columns))
        count += 1
    Console(file=out, soft_wrap=False).print(table)
    return count
