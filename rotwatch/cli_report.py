"""`rotwatch report`, `export` and `verify`: read-only commands over the store.

Kept apart from rotwatch/cli.py so that module stays about crawling; its root group lists
them (`COMMANDS`). Exit codes come from core.exitcodes.exit_code.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from archive.store import Store, StoreBusyError, StoreError
from archive.store.lock import StoreBusy, WriterLock
from archive.warc.atomic import OutputError, atomic_output
from archive.warc.writer import OPEN_SUFFIX, WARC_SUFFIX, recover_open_files, writer_holds
from core.escaping import one_line
from core.exitcodes import exit_code
from rotwatch.export import export_warc
from rotwatch.export import verify as verify_store
from rotwatch.report import ALL_STATES, RENDERERS, STREAMERS, Report, stream_report
from rotwatch.timezone import UnknownZone, resolve_zone

_SEED_HELP = "Only seeds whose path contains this text (repeatable)."


def _fail(problem: str | Exception) -> NoReturn:
    """One line on stderr; exit 3 when the store was busy, else 1."""
    click.echo(f"rotwatch: {one_line(str(problem))}", err=True)
    sys.exit(exit_code(busy=isinstance(problem, StoreBusyError), error=True))


def _recover_open_warcs(config: Any) -> None:
    """Finish the WARC files a crashed run left `.open`, as `check` does before it crawls.

    Only under the store's writer lock, so never beside a running check (its files are
    read where they are) nor beside another recovery. Recovery is best effort: when it
    cannot run (a read-only archive, say) the files are read as they are.
    """
    warc_dir: Path = config.warc_dir
    leftovers = [p for p in sorted(warc_dir.glob(f"*{WARC_SUFFIX}{OPEN_SUFFIX}"))
                 if not writer_holds(p)] if warc_dir.is_dir() else []
    if not leftovers:
        return  # the common case: no lock taken, so no check is ever turned away for it
    try:
        with WriterLock(config.lock_path, "WARC recovery"):
            reports = recover_open_files(warc_dir)
    except StoreBusy:
        return
    except OSError as exc:
        click.echo(f"rotwatch: cannot recover interrupted WARC files in {warc_dir}: {exc}; "
                   "reading them as they are", err=True)
        return
    for r in reports:
        kept = f"kept {r.records_kept} record(s)"
        if r.partial_file:
            kept += f", moved {r.bytes_dropped} cut byte(s) to {r.partial_file}"
        click.echo(f"rotwatch: recovered {r.open_file} left by an interrupted run: {kept}",
                   err=True)


_EXTENSIONS = {"text": "txt", "markdown": "md", "html": "html", "csv": "csv",
               "json": "json", "junit": "xml"}


def _write(target: Path, built: Report, fmt: str) -> None:
    """Stream one format into `target`, atomically: a reader never sees half a report."""
    try:
        with atomic_output(target) as fh:
            for chunk in STREAMERS[fmt](built):
                fh.write(chunk.encode("utf-8"))
    except OutputError as exc:
        _fail(exc)
    click.echo(f"wrote {built.link_total} link(s) to {target}", err=True)


def _open(store: Store, config: Any, states: tuple[str, ...], seeds: tuple[str, ...]
          ) -> Report:
    try:
        zone, name = resolve_zone(config.report.timezone)
    except UnknownZone as exc:
        _fail(f"[report] timezone: {exc}")
    return stream_report(store, datetime.now(UTC), states=states or None, seeds=seeds,
                         zone=zone, timezone=name)


def _write_configured(store: Store, config: Any, states: tuple[str, ...],
                      seeds: tuple[str, ...]) -> bool:
    """Every configured format into [report] directory; True when a link is dead."""
    directory = Path(config.report.directory).expanduser()
    if not directory.is_absolute():
        directory = config.data_dir / directory
    attention = False
    for name in config.report.formats:
        if name not in STREAMERS:
            _fail(f"[report] formats: unknown format {name!r} (known: {', '.join(STREAMERS)})")
        built = _open(store, config, states, seeds)  # each format reads the store anew
        _write(directory / f"rotwatch-report.{_EXTENSIONS[name]}", built, name)
        attention = built.needs_attention
    return attention


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or time",
                                 param_hint="--since") from None
    # A bare date means midnight UTC: snapshot times are stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
@click.pass_obj
def report(obj: Any, fmt: str, output: Path | None, states: tuple[str, ...],
           seeds: tuple[str, ...], configured: bool) -> None:
    """Report the links that need attention, grouped by the article that cites them.

    Exits 2 when the report lists at least one dead link, 0 otherwise (also when it
    lists failing or changed links: they are not dead yet), 1 on error.

    \b
    Example:
      rotwatch report --format html --output reports/links.html
      rotwatch report --state dead --seed blinken --format junit -o junit.xml
      rotwatch report --configured
    """
    try:
        with Store(obj.config.store_path) as store:
            if configured:
                attention = _write_configured(store, obj.config, states, seeds)
            else:
                built = _open(store, obj.config, states, seeds)
                if output is None:
                    for chunk in STREAMERS[fmt](built):
                        click.echo(chunk, nl=False)
                else:
                    _write(output, built, fmt)
                attention = built.needs_attention
    except StoreError as exc:
        _fail(exc)
    sys.exit(exit_code(attention=attention))


@click.command()
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The .warc.gz file to write (replaced if it exists).")
@click.option("--seed", "seeds", multiple=True, help=_SEED_HELP)
@click.option("--since", help="Only targets whose latest snapshot was taken at or after this "
              "ISO 8601 date or time (UTC unless it says otherwise), e.g. 2024-07-01.")
@click.pass_obj
def export(obj: Any, output: Path, seeds: tuple[str, ...], since: str | None) -> None:
    """Export the latest snapshot of each target as one WARC file.

    A snapshot stored as a revisit comes with the response record it refers to, so
    the file can be replayed on its own. Exits 1 when any record could not be copied.

    \b
    Example:
      rotwatch export --output blinken.warc.gz --seed blinken --since 2024-07-01
    """
    moment = _since(since)
    _recover_open_warcs(obj.config)
    try:
        with Store(obj.config.store_path) as store:
            result = export_warc(store, obj.config.warc_dir, output, seeds=seeds,
                                 since=moment)
    except (StoreError, OSError) as exc:
        _fail(exc)
    for problem in result.problems:
        click.echo(f"rotwatch: {problem}", err=True)
    click.echo(f"wrote {result.records} record(s) for {result.targets} target(s) "
               f"({result.originals} revisit original(s)) to {output}", err=True)
    sys.exit(exit_code(error=bool(result.problems)))


@click.command()
@click.pass_obj
def verify(obj: Any) -> None:
    """Check the fixity of every snapshot: its record is there and matches its digest.

    Also reports WARC files that are missing, cut short or followed by garbage. Files
    still being written by a running check are read where they are; files an interrupted
    run left behind are recovered first (cut after their last whole record), when no
    check is running. Exits 1 on any problem, 0 when everything checks out.

    \b
    Example:
      rotwatch --data-dir ./data verify
    """
    _recover_open_warcs(obj.config)
    try:
        with Store(obj.config.store_path) as store:
            result = verify_store(store, obj.config.warc_dir)
    except StoreError as exc:
        _fail(exc)
    for p in result.problems:
        where = f"{p.warc_file}@{p.offset}" if p.offset is not None else p.warc_file
        snap = f" (snapshot {p.snapshot_id})" if p.snapshot_id is not None else ""
        click.echo(f"{where}{snap}: {p.message}")
    click.echo(f"checked {result.snapshots} snapshot(s) in {result.files} file(s): "
               f"{len(result.problems)} problem(s)", err=True)
    sys.exit(exit_code(error=not result.ok))
