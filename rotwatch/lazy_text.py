"""Main text on demand: a capture's text is extracted only when a comparison needs it.

Main-text extraction (trafilatura) costs far more than fetching a page, and most captures
are never compared: a target's first capture only becomes its baseline, and an unchanged
page comes back byte-identical (a revisit, or a 304), which needs no text to be judged
the same. So a page's text is left out of `snapshots.text` until a later capture of the
same target differs from the baseline by payload digest; then both sides are extracted,
the stored one read back from its WARC record, and kept, so it is extracted once.

Pages whose whole visible text is short are the exception: their visible text (read by the
spider for the verdict already) is their main text and costs nothing, so it is kept at once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from archive.store.texts import StoredCapture
from archive.warc.writer import read_response
from crawler.fetch.spider import TEXT_BODY_LIMIT
from rotwatch.drift import MainText, extract_main_text

LOG = logging.getLogger(__name__)
# A page whose visible text is shorter has no boilerplate to strip.
SHORT_PAGE_CHARS = 400


def charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, as the crawl reads it."""
    if not content_type or "charset=" not in content_type.lower():
        return None
    value = content_type.lower().split("charset=", 1)[1].split(";")[0].strip().strip("\"'")
    return value or None


def stored_payload(warc_dir: Path, capture: StoredCapture) -> tuple[bytes, str | None]:
    """The page a capture archived (Content-Encoding undone, cut as the crawl cuts what it
    extracts from) and its transport charset. Raises OSError or ValueError when the WARC
    record cannot be read."""
    stored = read_response(warc_dir, capture.warc_file, capture.offset)
    content_type = next((v for k, v in stored.headers if k.lower() == "content-type"), None)
    return stored.payload[:TEXT_BODY_LIMIT], charset(content_type)


def extract_stored(warc_dir: Path, capture: StoredCapture) -> MainText | None:
    """The main text of a stored capture whose text was not extracted yet, in this process;
    None when its record cannot be read (the comparison is then skipped, and logged)."""
    try:
        body, encoding = stored_payload(warc_dir, capture)
    except (OSError, ValueError) as exc:
        LOG.warning("cannot read the capture of %s to extract its text: %s", capture.url, exc)
        return None
    return extract_main_text(body, capture.url, encoding=encoding)
