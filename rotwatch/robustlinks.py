"""A seed article re-emitted with Robust Links: each link carries its archived capture.

Robust Links (https://robustlinks.mementoweb.org/spec/) decorate an `<a>` with
`data-originalurl` (where it pointed), `data-versionurl` (a capture of it, here a replay
address: `<prefix><14-digit time>/<original URL>`, the form pywb and the Wayback Machine
use) and `data-versiondate` (the capture's date, YYYY-MM-DD). A publisher can put the
article back online with every citation protected against link rot. Only the links with
a good capture (never an error page) are decorated; the rest of the page is left as it was.
"""

from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup, Tag

from archive.store import Store
from archive.warc.atomic import write_text_atomic
from core.documents import SeedFormat
from core.text_decoding import decode_text
from core.urls import resolve
from crawler.extract.formats import markdown_to_html


def export_robust_links(store: Store, out_path: Path, seeds: tuple[str, ...],
                        replay_prefix: str) -> int:
    """Write the one seed article `seeds` selects, decorated; returns the links decorated."""
    matching = store.seed_pages(seeds) if seeds else []
    if len(matching) != 1:
        raise ValueError("--format robustlinks needs a --seed that matches exactly one seed "
                         f"article ({len(matching)} match)")
    seed = matching[0]
    try:
        raw = Path(seed.path).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the seed article {seed.path}: {exc.strerror}") from exc
    text = decode_text(raw).text
    if seed.format == SeedFormat.MARKDOWN:
        text = markdown_to_html(text)
    elif seed.format == SeedFormat.TEXT:
        raise ValueError(f"{seed.path} is plain text: it has no links to decorate")
    # The parser the links were extracted with, so every href reads the same here.
    soup = BeautifulSoup(text, "lxml")
    decorated = 0
    for anchor in soup.find_all("a", href=True):
        if not isinstance(anchor, Tag):
            continue
        target = resolve(str(anchor["href"]), seed.url)
        if not target.checkable:
            continue
        capture = store.good_capture_of(target.key)
        if capture is None:
            continue
        stamp = (capture.warc_date or capture.fetched_at)
        digits = "".join(ch for ch in stamp[:19] if ch.isdigit())
        anchor["data-originalurl"] = target.url
        anchor["data-versionurl"] = f"{replay_prefix}{digits}/{target.url}"
        anchor["data-versiondate"] = stamp[:10]
        decorated += 1
    write_text_atomic(out_path, str(soup))
    return decorated
