"""Live progress for a check on a terminal (rich), driven by the spider's results."""

from __future__ import annotations

import sys
from collections import Counter

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from archive.store import Selection
from core.records import Verdict
from rotwatch.check import CheckSummary, run_check
from rotwatch.config import Config


def check_with_progress(config: Config, selection: Selection, trigger: str) -> CheckSummary:
    console = Console(stderr=True)
    if not console.is_terminal:
        return run_check(config, selection, trigger=trigger)
    seen: Counter[Verdict] = Counter()
    with Progress(TextColumn("checking"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("", total=None)

        def on_result(verdict: Verdict) -> None:
            seen[verdict] += 1
            bad = sum(n for v, n in seen.items() if v.is_failure)
            progress.update(task, advance=1, description=f"{bad} broken or failing")

        return run_check(config, selection, trigger=trigger, on_result=on_result)


def print_summary(summary: CheckSummary) -> None:
    parts = ", ".join(f"{verdict}={n}" for verdict, n in sorted(summary.verdicts.items()))
    click.echo(f"checked {summary.checked} link(s) in run {summary.run_id}: {parts or 'none due'}")
    if summary.bad:
        click.echo(f"{summary.bad} link(s) broken or failing: see `rotwatch report`")
    if summary.error:
        click.echo(f"rotwatch: recording failed: {summary.error}", err=True)
    sys.stdout.flush()
