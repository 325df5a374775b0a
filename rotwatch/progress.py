"""Live progress on a terminal (rich): a bar with the known total, counts as they come.

Only when standard error is a terminal and the operator did not ask for quiet: logs,
pipes and the daemon's children get no bar and no control characters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from archive.store import Selection
from core.exitcodes import DEFAULT_FAIL_ON, FailOn
from core.records import Verdict
from rotwatch.check import CheckSummary, run_check
from rotwatch.config import Config


def terminal() -> Console | None:
    """The console to draw on, or None when standard error is not a terminal."""
    console = Console(stderr=True)
    return console if console.is_terminal else None


Advance = Callable[[str, int | None], None]


@contextmanager
def bar(label: str, total: int | None, console: Console | None) -> Iterator[Advance]:
    """Yields `advance(description, total)` (total: None keeps it); draws nothing
    without a console."""
    if console is None:
        yield lambda description, total: None
        return
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("", total=total)

        def advance(description: str, total: int | None) -> None:
            if total is not None:
                progress.update(task, total=total)
            progress.update(task, advance=1, description=description)

        yield advance


def _due_total(config: Config, selection: Selection) -> int:
    """How many targets the check will visit: the same stream the crawl reads."""
    from rotwatch.crawl_process import stream_targets

    return sum(1 for _ in stream_targets(config.store_path, datetime.now(UTC), selection,
                                         config.crawl.max_per_host_per_run))


def check_with_progress(config: Config, selection: Selection, trigger: str, *,
                        show: bool = True, log_level: str = "WARNING",
                        fail_on: frozenset[FailOn] = DEFAULT_FAIL_ON) -> CheckSummary:
    console = terminal() if show else None
    if console is None:
        return run_check(config, selection, trigger=trigger, log_level=log_level,
                         fail_on=fail_on)
    seen: Counter[str] = Counter()
    with bar("checking", _due_total(config, selection), console) as advance:

        def on_result(verdict: Verdict) -> None:
            kind = ("ok" if verdict.is_healthy else "broken" if verdict.is_failure
                    else "blocked")
            seen[kind] += 1
            advance(f"ok {seen['ok']} · broken {seen['broken']} · blocked {seen['blocked']}",
                    None)

        return run_check(config, selection, trigger=trigger, on_result=on_result,
                         log_level=log_level, fail_on=fail_on)
