"""`rotwatch triage`: mark a link fixed, ignored or replaced, or list its marks.

The rule for how long a mark holds is core/triage.py; the marks live in the store with
their history (archive/store/triage.py). See docs/review.md.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from typing import Any

import click

from archive.store import Store, StoreError, UnknownLink
from core.escaping import one_line
from core.triage import SETTABLE, Mark, MarkEvent, TriageError, validate
from core.urls import resolve
from rotwatch.cli_common import fail


def default_reviewer(config: Any) -> str:
    """`[review] reviewer`, else the OS user's login name, else "unknown"."""
    if config.review.reviewer:
        return str(config.review.reviewer)
    try:
        return getpass.getuser() or "unknown"
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return "unknown"


@click.command()
@click.argument("url")
@click.option("--mark", type=click.Choice([m.value for m in SETTABLE]),
              help="What to say about the link (omit it to list the link's marks).")
@click.option("--clear", is_flag=True, help="Take back the link's current mark.")
@click.option("--replacement", metavar="URL", help="With --mark replaced: the new URL.")
@click.option("--note", metavar="TEXT", help="Why, for the next reviewer.")
@click.option("--seed", "seeds", multiple=True, help="Only in articles whose path contains "
              "this text (repeatable); default: wherever the URL is cited.")
@click.option("--reviewer", metavar="NAME", help="Who sets the mark (default: [review] "
              "reviewer in the config, else the OS user).")
@click.pass_obj
def triage(obj: Any, url: str, mark: str | None, clear: bool, replacement: str | None,
           note: str | None, seeds: tuple[str, ...], reviewer: str | None) -> None:
    """Mark a problem link so it stops nagging, or list its marks.

    A `fixed` link that fails again at a later check comes back in the reports;
    `ignored` holds until cleared; `replaced` records the URL the article uses now.

    \b
    Example:
      rotwatch triage https://example.org/gone --mark replaced \\
          --replacement https://example.org/new --note "editor updated the story"
    """
    if mark and clear:
        fail("give either --mark or --clear, not both")
    chosen = Mark.CLEARED if clear else Mark(mark) if mark else None
    resolved = resolve(url, None)
    try:
        with Store(obj.config.store_path) as store:
            target = store.target_for(resolved.url, resolved.key)
            if target is None:
                fail(f"no recorded link has the URL {url} (rotwatch links lists them)")
            if chosen is None:
                _list(store, target[0], target[1])
                return
            who = reviewer if reviewer is not None else default_reviewer(obj.config)
            fixed_url = validate(chosen, replacement, note, who)
            event = MarkEvent(chosen, datetime.now(UTC).replace(microsecond=0), who.strip(),
                              note or None, fixed_url)
            rows = store.add_mark(target[0], event, seeds)
    except (TriageError, UnknownLink) as exc:
        fail(exc)
    except StoreError as exc:
        fail(exc)
    where = f"in {rows} article(s)" if seeds else "in every article citing it"
    click.echo(f"{one_line(target[1])}: {chosen.value} by {one_line(event.reviewer)} at "
               f"{event.marked_at.isoformat()} {where}")


def _list(store: Store, target_id: int, url: str) -> None:
    history = store.mark_history(target_id)
    click.echo(f"{one_line(url)}: {len(history)} mark(s)")
    for record in history:
        e = record.event
        scope = f"in {one_line(record.seed_path)}" if record.seed_path else "everywhere"
        extra = f" → {one_line(e.replacement)}" if e.replacement else ""
        note = f" “{one_line(e.note)}”" if e.note else ""
        click.echo(f"  {e.marked_at.isoformat()} {e.mark.value}{extra} by "
                   f"{one_line(e.reviewer)} ({record.via}, {scope}){note}")
    for (seed, tid), now in sorted(store.link_triage().items()):
        if tid == target_id:
            state = (f"re-opened by a failing check at {now.reopened_at.isoformat()}"
                     if now.reopened_at else "in effect")
            click.echo(f"  now in {one_line(seed)}: {now.mark.value}, {state}")
