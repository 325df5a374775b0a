"""`rotwatch export` and `verify`: the archive taken out of the store, and its fixity.

Kept apart from rotwatch/cli.py (crawling) and rotwatch/cli_report.py (the report); the
root group lists them (`COMMANDS`). Exit codes come from core.exitcodes.exit_code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from archive.store import Store, StoreError
from archive.store.lock import StoreBusy, WriterLock
from archive.warc.writer import OPEN_SUFFIX, WARC_SUFFIX, recover_open_files, writer_holds
from core.exitcodes import exit_code
from rotwatch.cli_common import fail, iso_moment
from rotwatch.export import export_warc
from rotwatch.export import verify as verify_store

_SEED_HELP = "Only seeds whose path contains this text (repeatable)."


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




_STATES = ["dead", "failing", "changed", "moved", "recovered", "blocked", "alive", "new"]


@click.command()
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The file to write (replaced if it exists, only once it is complete).")
@click.option("--format", "fmt", type=click.Choice(["warc", "wacz", "robustlinks"]),
              default="warc", show_default=True,
              help="warc: one .warc.gz; wacz: WARC + CDXJ index + pages + datapackage, for "
                   "ReplayWeb.page and pywb; robustlinks: the seed article's HTML with Robust "
                   "Links attributes on every link (needs exactly one --seed).")
@click.option("--seed", "seeds", multiple=True, help=_SEED_HELP)
@click.option("--state", "states", multiple=True, type=click.Choice(_STATES),
              help="Only targets in this state (repeatable).")
@click.option("--since", help="Only captures taken at or after this ISO 8601 date or time "
              "(UTC unless it says otherwise), e.g. 2024-07-01.")
@click.option("--until", help="Only captures taken at or before this ISO 8601 date or time.")
@click.option("--all-captures", is_flag=True,
              help="Every archived record of the selected targets (error pages, redirect "
                   "hops and retried attempts included), not only the latest good capture.")
@click.option("--replay-prefix", default="http://localhost:8080/rotwatch/", show_default=True,
              help="robustlinks: each data-versionurl is this prefix + the capture's "
                   "14-digit time + '/' + the URL (a pywb or Wayback-style replay address).")
@click.pass_obj
def export(obj: Any, output: Path, fmt: str, seeds: tuple[str, ...],
           states: tuple[str, ...], since: str | None, until: str | None,
           all_captures: bool, replay_prefix: str) -> None:
    """Export archived captures as WARC, WACZ, or a seed article with Robust Links.

    Default: the latest good capture of each target (never an error page), each revisit
    with the response it refers to, so the file replays on its own. Exits 1 when nothing
    matches or a record cannot be read (run `rotwatch verify`); nothing is written then.

    \b
    Example:
      rotwatch export --output blinken.warc.gz --seed blinken --since 2024-07-01
      rotwatch export --format wacz -o all.wacz --all-captures
      rotwatch export --format robustlinks --seed blinken -o blinken.html
    """
    from archive.store import ExportFilter
    from archive.warc.atomic import OutputError
    from rotwatch.export import EmptySelection, ExportFailed

    selection = ExportFilter(seeds, iso_moment(since, "--since"), iso_moment(until, "--until"),
                             states, all_captures)
    _recover_open_warcs(obj.config)
    try:
        with Store(obj.config.store_path) as store:
            if fmt == "robustlinks":
                from rotwatch.robustlinks import export_robust_links

                count = export_robust_links(store, output, seeds, replay_prefix)
                click.echo(f"wrote {count} link(s) with Robust Links attributes to {output}",
                           err=True)
                return
            if fmt == "wacz":
                from rotwatch.export_wacz import export_wacz

                result = export_wacz(store, obj.config.warc_dir, output, selection)
            else:
                result = export_warc(store, obj.config.warc_dir, output, selection=selection)
    except (StoreError, EmptySelection, ExportFailed, OutputError, ValueError) as exc:
        fail(exc)
    click.echo(f"wrote {result.records} record(s) for {result.targets} target(s) "
               f"({result.originals} revisit original(s)) to {output}", err=True)


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
        fail(exc)
    for p in result.problems:
        where = f"{p.warc_file}@{p.offset}" if p.offset is not None else p.warc_file
        snap = f" (snapshot {p.snapshot_id})" if p.snapshot_id is not None else ""
        click.echo(f"{where}{snap}: {p.message}")
    click.echo(f"checked {result.snapshots} snapshot(s) in {result.files} file(s): "
               f"{len(result.problems)} problem(s)", err=True)
    sys.exit(exit_code(error=not result.ok))
