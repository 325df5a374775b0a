"""`rotwatch show`: one archived capture of a URL, its headers, every capture, or its drift."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from archive.store import Store, StoreError
from rotwatch.cli_common import fail, iso_moment


@click.command()
@click.argument("url")
@click.option("--at", "when", help="The capture nearest this ISO 8601 date or time (UTC "
              "unless it says otherwise). Default: the latest.")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the body to FILE instead of standard output.")
@click.option("--headers", is_flag=True, help="Print the archived status line and headers "
              "(and write the body only with --output).")
@click.option("--list", "list_all", is_flag=True,
              help="List every capture of the URL: time, status, record type, digest, where.")
@click.option("--diff", is_flag=True, help="A short diff of the target's main text: its "
              "baseline capture (what the citation was made against) against the latest.")
@click.pass_obj
def show(obj: Any, url: str, when: str | None, output: Path | None, headers: bool,
         list_all: bool, diff: bool) -> None:
    """Show what a link pointed to: the archived body of the capture nearest a time.

    The body comes straight from the WARC file, with its Content-Encoding undone;
    archived redirects are followed to the page. Exits 1 when the URL was never archived.

    \b
    Example:
      rotwatch show https://example.org/report --at 2024-07-01 -o report.html
      rotwatch show https://example.org/report --list
      rotwatch show https://example.org/report --diff
    """
    from archive.warc.atomic import OutputError, atomic_output
    from rotwatch.show import NotArchived, captures, drift_diff, headers_text, listing
    from rotwatch.show import show as show_capture

    warc_dir = obj.config.warc_dir
    try:
        with Store(obj.config.store_path) as store:
            if list_all:
                entries = captures(store, warc_dir, url)
                if not entries:
                    raise NotArchived(f"no capture of {url} in the archive")
                click.echo("\n".join(listing(entries)))
                return
            if diff:
                click.echo("\n".join(drift_diff(store, url, warc_dir))
                           or "no difference in main text")
                return
            shown = show_capture(store, warc_dir, url, iso_moment(when, "--at"))
    except (StoreError, NotArchived, OSError, ValueError) as exc:
        fail(exc)
    for hop in shown.hops:
        click.echo(f"followed the archived redirect of {hop.url} ({hop.status})", err=True)
    if headers:
        click.echo(headers_text(shown), nl=False)
    if output is not None:
        try:
            with atomic_output(output) as fh:
                fh.write(shown.body)
        except OutputError as exc:
            fail(exc)
        click.echo(f"wrote {len(shown.body)} byte(s) of {shown.entry.url} captured "
                   f"{shown.entry.timestamp} to {output}", err=True)
    elif not headers:
        sys.stdout.buffer.write(shown.body)
        sys.stdout.buffer.flush()
