"""What the commands share: the root group's usage exit code and lazily loaded commands,
one-line errors and the
exit that follows one, ISO 8601 option values, the "next step" hint that names the data
directory, and the `--fail-on` option."""

from __future__ import annotations

import importlib
import os
import shlex
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from archive.store import StoreBusyError
from core.escaping import one_line
from core.exitcodes import ExitCode, FailOn, exit_code, parse_fail_on
from rotwatch.config import Config, default_data_dir

F = TypeVar("F", bound=Callable[..., Any])


class UsageGroup(click.Group):
    """A group whose usage errors exit 64 (sysexits' EX_USAGE), not click's 2.

    2 means "links need attention" (core/exitcodes.py); a typo in a unit's ExecStart
    must not look like a successful run that found dead links. Covers the root's own
    options, a bare `rotwatch`, every subcommand's options and BadParameter raised in a
    command's body.
    """

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            _usage_exit(exc)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            _usage_exit(exc)


class LazyGroup(UsageGroup):
    """A UsageGroup whose commands are imported when one is looked up: `rotwatch check`
    imports the modules `check` needs, not every command's (~0.2 CPU-s per invocation:
    export's WARC and WACZ writers, the report, the review UI, …). `lazy` maps each
    command's name to "module:attribute"."""

    def __init__(self, *args: Any, lazy: Mapping[str, str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, _, attribute = self.lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            assert isinstance(command, click.Command) and command.name == cmd_name, cmd_name
            self.add_command(command)
        return super().get_command(ctx, cmd_name)


def _usage_exit(exc: click.UsageError) -> NoReturn:
    """What click's main does with a usage error, with our code (its `exit_code` is a
    class attribute)."""
    exc.show()
    sys.exit(ExitCode.USAGE)


def echo_err(message: str) -> None:
    # Messages can quote seed paths, URLs and exception text: one safe line each.
    click.echo(one_line(message), err=True)


def fail(problem: str | Exception) -> NoReturn:
    """One line on stderr; exit 3 when the store was busy, else 1."""
    click.echo(f"rotwatch: {one_line(str(problem))}", err=True)
    sys.exit(exit_code(busy=isinstance(problem, StoreBusyError), error=True))


def iso_moment(value: str | None, option: str) -> datetime | None:
    """An option's ISO 8601 date or time; a bad value is a usage error naming `option`.

    A bare date or time without a zone means UTC: snapshot times are stored in UTC.
    """
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or time",
                                 param_hint=option) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def command_line(config: Config, *words: str,
                 env: Mapping[str, str] | None = None) -> str:
    """`rotwatch …` as the operator must type it to reach this same store: with
    `--data-dir` (and `--config`) when they are not what a bare `rotwatch` would use."""
    env = os.environ if env is None else env
    parts = ["rotwatch"]
    if config.source and env.get("ROTWATCH_CONFIG") != config.source:
        parts += ["--config", config.source]
    if _resolved(config.data_dir) != _resolved(default_data_dir(env)):
        parts += ["--data-dir", str(config.data_dir)]
    return shlex.join([*parts, *words])


def empty_store_hint(config: Config, what: str) -> str:
    """For a command that found nothing at all: maybe it looked in the wrong store."""
    return (f"rotwatch: no {what} in the store at {config.store_path}; is this the data "
            f"directory you meant? (`make run` uses ./data: "
            f"`rotwatch --data-dir data …`; to fill this one: "
            f"`{command_line(config, 'ingest', 'PATH')}`)")


def _resolved(path: Path) -> Path:
    return path.expanduser().resolve()


def _fail_on(ctx: click.Context, param: click.Parameter,
             values: tuple[str, ...]) -> frozenset[FailOn]:
    try:
        return parse_fail_on(values)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def fail_on_option(command: F) -> F:
    """`--fail-on dead|failing|changed`: which link states make the command exit 2."""
    return click.option(
        "--fail-on", "fail_on", multiple=True, callback=_fail_on, metavar="STATES",
        help="Exit 2 when a selected link is in one of these states: dead, failing, "
             "changed (repeatable or comma list). Default: dead,failing.")(command)
