"""Main text on demand: a capture's text is extracted only when a comparison needs it.

Main-text extraction (trafilatura) costs far more than fetching a page, and most captures
are never compared: a target's first capture only becomes its baseline, and an unchanged
page comes back byte-identical (a revisit, or a 304), which needs no text to be judged
the same. So a page's text is left out of `snapshots.text` until a later capture of the
same target differs from the baseline by payload digest; then both sides are extracted,
the stored one read back from its WARC record, and kept, so it is extracted once.

Pages whose whole visible text is short are the exception: their visible text (read by the
spider for the verdict already) is their main text and costs nothing, so it is kept at once.

A page waiting for extraction is queued as where it lies in the archive, never as its
bytes (rotwatch/page_refs.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

from archive.store.texts import StoredCapture
from crawler.fetch.spider import TEXT_BODY_LIMIT
from rotwatch.drift import MainText
from rotwatch.page_refs import PageRef, extract_ref

LOG = logging.getLogger(__name__)
# A page whose visible text is shorter has no boilerplate to strip.
SHORT_PAGE_CHARS = 400


def stored_ref(warc_dir: Path, capture: StoredCapture) -> PageRef:
    """Where a stored capture's page is: its record's payload (Content-Encoding undone, cut
    as the crawl cuts what it extracts from), read with its own transport charset."""
    return PageRef(warc_dir, capture.warc_file, capture.offset, capture.url, TEXT_BODY_LIMIT)


def extract_stored(warc_dir: Path, capture: StoredCapture) -> MainText | None:
    """The main text of a stored capture whose text was not extracted yet, in this process;
    None when its record cannot be read (the comparison is then skipped, and logged)."""
    try:
        return extract_ref(stored_ref(warc_dir, capture))
    except ValueError as exc:  # the record cannot be read (the message names the page)
        LOG.warning("%s", exc)
        return None
