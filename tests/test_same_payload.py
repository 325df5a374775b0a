"""A check of its target's baseline payload (a 304 confirming the capture) records the
title and content hash the old rule gave, reading the stored hash instead of the text.

The old rule (still the path for every other capture): the title and text of the first
response row of the payload with a text (`text_for_digest`), else the baseline's own, and
`against_baseline(text, …, same_payload=True)`'s hash of that text. Real SQLite store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.store import Store
from archive.store.results import text_for_digest
from archive.store.texts import SamePayload, baseline_capture, same_payload, store_text
from rotwatch.drift import against_baseline, content_fingerprint

WHEN = "2026-12-01T12:00:00+00:00"


def _target(store: Store, key: str) -> int:
    cursor = store.db.conn.execute(
        "INSERT INTO targets (key, url, host, checkable, first_seen_at) VALUES (?, ?, ?, 1, ?)",
        [key, key, "127.0.0.2", WHEN])
    return int(cursor.lastrowid or 0)


def _snapshot(store: Store, target_id: int, digest: str, *, text: str | None,
              title: str | None = "Title", record_type: str = "response",
              status: int = 200, mime: str | None = "text/html", hashed: bool = True,
              baseline: bool = True) -> int:
    cursor = store.db.conn.execute(
        "INSERT INTO snapshots (target_id, fetched_at, url, warc_file, warc_offset, "
        "warc_length, payload_digest, record_type, mime, title, text, truncated, status, "
        "text_hash) VALUES (?, ?, 'u', 'f.warc.gz', 0, 1, ?, ?, ?, ?, ?, 0, ?, ?)",
        [target_id, WHEN, digest, record_type, mime, title, text, status,
         content_fingerprint(text) if hashed and text else None])
    snapshot_id = int(cursor.lastrowid or 0)
    if baseline:
        store.db.conn.execute("UPDATE targets SET baseline_snapshot_id = ? WHERE id = ?",
                              [snapshot_id, target_id])
    return snapshot_id


def _old_rule(store: Store, target_id: int, digest: str) -> tuple[str | None, str | None] | None:
    """Title and content hash as the Recorder recorded them before, or None where the
    baseline was not the same comparable payload (another path)."""
    base = baseline_capture(store.db, target_id)
    if base is None or not base.comparable or base.digest != digest:
        return None
    earlier = text_for_digest(store.db, digest) or (base.title, base.text)
    return earlier[0], against_baseline(earlier[1], None, same_payload=True).content_hash


def _new_rule(store: Store, target_id: int, digest: str) -> tuple[str | None, str | None] | None:
    found = same_payload(store.db, target_id, digest)
    if found is None:
        return None
    text_hash = found.text_hash or (content_fingerprint(found.text) if found.text else None)
    return found.title, text_hash


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "s.db")


ARTICLE = "The harbour ferries run again. " * 200


@pytest.mark.parametrize("case", [
    "stored-hash", "no-hash-row", "pending", "empty-text", "revisit-baseline",
    "other-payload", "no-baseline", "binary-pending", "earlier-row-of-other-target",
    "earlier-row-without-hash", "redirect-status"])
def test_same_payload_gives_what_the_old_rule_gave(store: Store, case: str) -> None:
    target = _target(store, "http://127.0.0.2/a")
    digest = "sha1:AAAA"
    if case == "stored-hash":
        _snapshot(store, target, digest, text=ARTICLE)
    elif case == "no-hash-row":  # written before migration m009
        _snapshot(store, target, digest, text=ARTICLE, hashed=False)
    elif case == "pending":  # a long page whose text was never extracted
        _snapshot(store, target, digest, text=None, title="Headline")
    elif case == "empty-text":
        _snapshot(store, target, digest, text="")
    elif case == "revisit-baseline":
        _snapshot(store, target, digest, text=None, record_type="revisit")
    elif case == "other-payload":
        _snapshot(store, target, "sha1:BBBB", text=ARTICLE)
    elif case == "binary-pending":
        _snapshot(store, target, digest, text=None, mime="application/pdf")
    elif case in ("earlier-row-of-other-target", "earlier-row-without-hash"):
        other = _target(store, "http://127.0.0.3/b")
        _snapshot(store, other, digest, text="Another text entirely " * 9, title="First",
                  hashed=case == "earlier-row-of-other-target", baseline=False)
        _snapshot(store, target, digest, text=None, title="Headline")
    elif case == "redirect-status":
        _snapshot(store, target, digest, text=None, status=301)
    store.db.conn.commit()
    old = _old_rule(store, target, digest)
    assert _new_rule(store, target, digest) == old
    if case in ("stored-hash", "pending", "earlier-row-of-other-target"):
        assert old is not None  # the cases the fast path is for do take it
    if case == "stored-hash":  # the text itself is not read when its hash is stored
        assert same_payload(store.db, target, digest) == SamePayload(
            "Title", content_fingerprint(ARTICLE))


def test_a_text_stored_late_keeps_its_hash(store: Store) -> None:
    target = _target(store, "http://127.0.0.2/a")
    _snapshot(store, target, "sha1:AAAA", text=None, title="Headline")
    base = baseline_capture(store.db, target)
    assert base is not None and base.pending
    store_text(store.db, base, ARTICLE, content_fingerprint(ARTICLE))
    store_text(store.db, base, "written twice? never", None)  # only from NULL, once
    assert store.db.conn.execute("SELECT text, text_hash FROM snapshots").fetchall() == [
        (ARTICLE, content_fingerprint(ARTICLE))]
    assert _new_rule(store, target, "sha1:AAAA") == _old_rule(store, target, "sha1:AAAA") == (
        "Headline", content_fingerprint(ARTICLE))
