"""`rotwatch check` and `rotwatch run`: one crawl over the selected links, then the verdict.

Both end through core.exitcodes: 2 when a selected link (due or not) is in a `--fail-on`
state after the run, so a second `run` with nothing due still says the links are broken.
The crawl options override the config for this run only.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from archive.store import Selection, Store, StoreBusyError, StoreError
from archive.store.lock import StoreBusy, WriterLock
from core.escaping import one_line
from core.exitcodes import ExitCode, FailOn, exit_code
from core.triggers import Trigger
from core.urls import resolve
from rotwatch.check import CheckSummary
from rotwatch.check_messages import notes, summary_lines
from rotwatch.cli_common import command_line, echo_err, empty_store_hint
from rotwatch.cli_ingest import run_ingest
from rotwatch.cli_options import RunChoices, run_options
from rotwatch.config import Config


def _runner(choices: RunChoices, fail_on: frozenset[FailOn],
            trigger: str) -> Callable[[Config, Selection], CheckSummary]:
    def run(config: Config, selection: Selection) -> CheckSummary:
        from rotwatch.progress import check_with_progress

        return check_with_progress(config, selection, trigger,
                                   show=choices.progress and not choices.quiet,
                                   log_level=choices.log_level, fail_on=fail_on)
    return run


def _locked(config: Config, work: Callable[[], ExitCode]) -> ExitCode:
    """Run `work` under the store's writer lock; one line and 3 / 1 when it cannot."""
    try:
        with WriterLock(config.lock_path, "check"):
            return work()
    except StoreBusy as exc:
        echo_err(f"rotwatch: {exc}; not starting a second crawl")
        return exit_code(busy=True)
    except StoreError as exc:
        echo_err(f"rotwatch: {exc}")
        return exit_code(busy=isinstance(exc, StoreBusyError), error=True)
    except ValueError as exc:
        echo_err(f"rotwatch: {exc}")
        return exit_code(error=True)


def _report(config: Config, summary: CheckSummary, choices: RunChoices) -> ExitCode:
    if summary.error:
        echo_err(f"rotwatch: recording failed: {summary.error}")
    if not choices.quiet:
        for line in summary_lines(summary, config):
            click.echo(one_line(line))
    sys.stdout.flush()
    return summary.exit_code


def run_check_command(config: Config, selection: Selection, choices: RunChoices,
                      fail_on: frozenset[FailOn], trigger: str) -> ExitCode:
    config = choices.apply(config)
    selection = choices.select(config, selection)
    run = _runner(choices, fail_on, trigger)

    def work() -> ExitCode:
        summary = run(config, selection)
        code = _report(config, summary, choices)
        with Store(config.store_path) as store:
            if choices.verbose and not choices.quiet:
                for found in store.run_checks(summary.run_id):
                    click.echo(one_line(f"{found.verdict:<18} {found.state:<9} {found.url} "
                                        f"({found.reason})"))
            if not summary.checked and not summary.refused and not store.counts()["targets"]:
                echo_err(empty_store_hint(config, "links"))
        return code

    return _locked(config, work)


def _unknown_urls(config: Config, keys: dict[str, str]) -> list[str]:
    """The --url values whose target the store does not hold."""
    try:
        with Store(config.store_path) as store:
            known = store.known_keys(tuple(keys))
    except StoreError:
        return []  # the check itself will report the store problem
    return [url for key, url in keys.items() if key not in known]


def _adhoc(config: Config, urls: tuple[str, ...], record: bool, choices: RunChoices,
           fail_on: frozenset[FailOn], trigger: str) -> ExitCode:
    from rotwatch.adhoc import adhoc_seeds, check_adhoc

    try:
        adhoc_seeds(urls)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from None
    config = choices.apply(config)
    run = _runner(choices, fail_on, trigger)

    def work() -> ExitCode:
        result = check_adhoc(config, urls, record=record, run=run)
        if result.summary.error:
            echo_err(f"rotwatch: recording failed: {result.summary.error}")
        if not choices.quiet:
            for found in result.checks:
                click.echo(one_line(f"{found.verdict:<18} {found.url} ({found.reason})"))
            for line in notes(result.summary):
                click.echo(one_line(line))
            if not record:
                click.echo("not recorded (add --record to keep these checks in the store)",
                           err=True)
        return result.summary.exit_code

    if record:
        return _locked(config, work)
    try:
        return work()
    except (StoreError, ValueError) as exc:
        echo_err(f"rotwatch: {exc}")
        return exit_code(error=True)


@click.command()
@click.argument("urls", nargs=-1, metavar="[URL]...")
@click.option("--all", "every", is_flag=True, help="Check every checkable target, due or not.")
@click.option("--seed", "seeds", multiple=True,
              help="Only targets cited by seeds whose path contains this text (repeatable).")
@click.option("--url", "keys", multiple=True,
              help="Only this target URL of the store (repeatable).")
@click.option("--record", is_flag=True,
              help="Keep the checks of URL arguments in the store (as the seed "
                   "'(command line) URL'); by default they are only printed.")
@run_options
@click.pass_obj
def check(obj: Any, urls: tuple[str, ...], every: bool, seeds: tuple[str, ...],
          keys: tuple[str, ...], record: bool, choices: RunChoices,
          fail_on: frozenset[FailOn]) -> None:
    """Check the links that are due (one Scrapy crawl) and record every verdict.

    With URL arguments, check those URLs instead (stored or not): judged and printed,
    and kept in the store only with --record. Exits 0 when no selected link needs
    attention, 2 when one is in a --fail-on state (default dead or failing; due or not),
    1 on error, 3 when another rotwatch process holds the store, 64 on a usage error.

    \b
    Example:
      rotwatch check --seed blinken --all
      rotwatch check https://www.state.gov/ --accept 403
    """
    config: Config = obj.config
    if urls:
        if every or seeds or keys:
            raise click.UsageError("URL arguments cannot be combined with --all, --seed "
                                   "or --url")
        sys.exit(_adhoc(config, urls, record, choices, fail_on,
                        obj.trigger_or(Trigger.MANUAL)))
    wanted = {resolve(u, None).key: u for u in keys}
    unknown = _unknown_urls(config, wanted)
    for url in unknown:
        echo_err(f"rotwatch: {url} is not in the store; check it once with "
                 f"`{command_line(config, 'check', url)}` or ingest a seed that cites it")
    if wanted and len(unknown) == len(wanted):
        sys.exit(exit_code(error=True))
    selection = Selection(every=every, seeds=seeds, keys=tuple(wanted))
    sys.exit(run_check_command(config, selection, choices, fail_on,
                               obj.trigger_or(Trigger.MANUAL)))


@click.command()
@click.argument("paths", nargs=-1)
@click.option("--all", "every", is_flag=True,
              help="Check every checkable target after ingesting, due or not.")
@click.option("--seed", "seeds", multiple=True,
              help="Only check targets cited by seeds whose path contains this text "
                   "(repeatable); every seed under PATHS is still ingested.")
@run_options
@click.pass_obj
def run(obj: Any, paths: tuple[str, ...], every: bool, seeds: tuple[str, ...],
        choices: RunChoices, fail_on: frozenset[FailOn]) -> None:
    """Ingest the seeds, check the links that are due, and print the summary.

    PATHS default to the configured seed list (seeds/). The exit code is about every
    selected link, checked in this run or not: 2 while one is dead or failing.

    \b
    Example:
      rotwatch --data-dir ./data run seeds/
    """
    code = run_ingest(obj, paths, None, quiet=choices.quiet,
                      progress=choices.progress and not choices.quiet)
    if code is not ExitCode.OK:
        sys.exit(code)
    sys.exit(run_check_command(obj.config, Selection(every=every, seeds=seeds), choices,
                               fail_on, obj.trigger_or(Trigger.RUN)))
