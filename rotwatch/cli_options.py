"""The options `check` and `run` share: crawl overrides for one run, URL filters,
`--accept`, verbosity and progress, handed to the command as one `RunChoices`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import click

from archive.store import Selection
from core.operator_rules import AcceptRule
from core.url_filter import PatternError, compile_pattern
from rotwatch.cli_common import fail_on_option
from rotwatch.config import Config, ConfigError, text_setting

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RunChoices:
    """What the operator chose on the command line for this run (not stored anywhere)."""

    allow_private: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    accept: tuple[str, ...] = ()
    timeout: float | None = None
    user_agent: str | None = None
    max_concurrency: int | None = None
    quiet: bool = False
    verbose: int = 0
    progress: bool = True

    def apply(self, config: Config) -> Config:
        crawl = config.crawl
        crawl = replace(crawl, accept=crawl.accept + self.accept,
                        allow_private_addresses=crawl.allow_private_addresses
                        or self.allow_private,
                        timeout=self.timeout or crawl.timeout,
                        user_agent=self.user_agent or crawl.user_agent,
                        concurrency_total=self.max_concurrency or crawl.concurrency_total)
        return replace(config, crawl=crawl)

    def select(self, config: Config, selection: Selection) -> Selection:
        return replace(selection, include=config.crawl.include + self.include,
                       exclude=config.crawl.exclude + self.exclude)

    @property
    def log_level(self) -> str:
        return "DEBUG" if self.verbose > 1 else "INFO" if self.verbose else "WARNING"


def _patterns(ctx: click.Context, param: click.Parameter,
              values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        for value in values:
            compile_pattern(value)
    except PatternError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return values


def _accept(ctx: click.Context, param: click.Parameter,
            values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        for value in values:
            AcceptRule.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return values


def _user_agent(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    try:
        return None if value is None else text_setting(value, "--user-agent")
    except ConfigError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


_OPTIONS = (
    click.option("--allow-private", is_flag=True,
                 help="Also check targets on loopback/private addresses (refused by default; "
                      "a refusal is not recorded as a check)."),
    click.option("--include", multiple=True, callback=_patterns, metavar="REGEX",
                 help="Only URLs matching this regex (repeatable; adds to [crawl] include)."),
    click.option("--exclude", multiple=True, callback=_patterns, metavar="REGEX",
                 help="Skip URLs matching this regex (repeatable; adds to [crawl] exclude)."),
    click.option("--accept", multiple=True, callback=_accept, metavar="[HOST=]CODES",
                 help="Final statuses counted alive, e.g. 403 or example.com=403,429 or "
                      "500..599 (repeatable; adds to [crawl] accept)."),
    click.option("--timeout", type=click.FloatRange(0, 3600, min_open=True),
                 help="Seconds to wait for a response (overrides [crawl] timeout)."),
    click.option("--user-agent", callback=_user_agent,
                 help="User-Agent header sent (overrides [crawl] user_agent)."),
    click.option("--max-concurrency", type=click.IntRange(1, 1000),
                 help="Requests in flight at once, all hosts (overrides [crawl] "
                      "concurrency_total)."),
    click.option("-q", "--quiet", is_flag=True,
                 help="Print nothing but errors; the exit code tells the result."),
    click.option("-v", "--verbose", count=True,
                 help="Log the crawl (-v info, -vv debug) and list every link checked."),
    click.option("--no-progress", "no_progress", is_flag=True,
                 help="No progress bar, even on a terminal (there is none in pipes/logs)."),
)


def run_options(command: F) -> F:
    """The options `check` and `run` share, handed to the command as one `choices`."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        no_progress = kwargs.pop("no_progress")
        choices = RunChoices(
            **{name: kwargs.pop(name) for name in (
                "allow_private", "include", "exclude", "accept", "timeout", "user_agent",
                "max_concurrency", "quiet", "verbose")},
            progress=not no_progress)
        return command(*args, choices=choices, **kwargs)

    for option in reversed(_OPTIONS):
        wrapper = option(wrapper)
    return fail_on_option(wrapper)  # type: ignore[return-value]
