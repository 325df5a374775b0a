"""A target's recheck validators in the store: one JSON column, read back into `Validators`.

Anything unreadable reads as None: the recheck is then an ordinary GET, never an error.
"""

from __future__ import annotations

import json

from core.records import Capture, Validators


def validators_to_db(validators: Validators | None) -> str | None:
    if validators is None:
        return None
    capture = validators.capture
    return json.dumps({
        "url": validators.url, "etag": validators.etag,
        "last_modified": validators.last_modified,
        "capture": None if capture is None else [capture.uri, capture.date,
                                                 capture.payload_digest]},
        separators=(",", ":"))


def validators_from_db(text: str | None) -> Validators | None:
    if not text:
        return None
    try:
        data = json.loads(text)
        capture = data.get("capture")
        return Validators(
            url=str(data["url"]), etag=_text(data.get("etag")),
            last_modified=_text(data.get("last_modified")),
            capture=Capture(*(str(v) for v in capture)) if capture else None)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
