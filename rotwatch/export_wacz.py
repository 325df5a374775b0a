"""A WACZ 1.1.1 package of an export: the WARC, its CDXJ index, pages and datapackage.

Layout (https://specs.webrecorder.net/wacz/1.1.1/): `archive/rotwatch-export.warc.gz`
(stored, not deflated, so replay tools can seek in it), `indexes/index.cdx` (CDXJ, made by
cdxj-indexer from the exported WARC, so offsets are the package's own), `pages/pages.jsonl`
(one page per exported target, seed articles marked), and `datapackage.json` last, with
the sha256 and size of every other file, the seed list and rotwatch's version.

Streamed: the WARC and the page list are written to a temp directory beside the output
as records come, the index is sorted by cdxj-indexer (which spills to temp files past
32 MB), and every file is copied into the zip in chunks. The zip itself goes through
`atomic_output`, so an interrupted export leaves nothing under the final name.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cdxj_indexer.main import CDXJIndexer

from archive.store import ExportFilter, Store
from archive.warc.atomic import atomic_output
from archive.warc.writer import parse_warc_date
from rotwatch import __version__
from rotwatch.export import EmptySelection, Exported, ExportResult, selected_records, write_records

WACZ_VERSION = "1.1.1"
WARC_NAME = "rotwatch-export.warc.gz"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class PackedFile:
    path: str  # inside the zip
    sha256: str
    size: int


def export_wacz(store: Store, warc_dir: Path, out_path: Path, selection: ExportFilter
                ) -> ExportResult:
    """Write the selected captures as a WACZ file at `out_path`; see the module docstring."""
    seeds = store.seed_pages(selection.seeds)
    seed_titles = {s.url: s.title for s in seeds if s.url}
    records = selected_records(store, warc_dir, selection)
    first = next(records)  # EmptySelection before anything is created
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".rotwatch-wacz-", dir=out_path.parent) as tmp:
        work = Path(tmp)
        warc, pages_path, index = work / WARC_NAME, work / "pages.jsonl", work / "index.cdx"
        counts = {"records": 0, "originals": 0}
        targets: set[int] = set()
        with open(warc, "wb") as out, open(pages_path, "w", encoding="utf-8") as pages:
            pages.write(json.dumps({"format": "json-pages-1.0", "id": "pages",
                                    "title": "Cited pages"}) + "\n")
            chain = _chain(first, records)
            # Records come target by target, oldest first: a target's page is its latest
            # capture a check judged, written when the next target starts.
            page: Exported | None = None
            for item in write_records(out, WARC_NAME, "rotwatch export",
                                      chain, {"rotwatch-version": __version__}):
                counts["records"] += 1
                counts["originals"] += item.original
                if item.original or item.row.capture != "result":
                    continue
                if page is not None and page.row.target_id != item.row.target_id:
                    pages.write(json.dumps(_page(page, seed_titles)) + "\n")
                page = item
                targets.add(item.row.target_id)
            if page is not None:
                pages.write(json.dumps(_page(page, seed_titles)) + "\n")
        if not counts["records"]:
            raise EmptySelection("nothing to export: no capture matches the selection")
        CDXJIndexer(output=str(index), inputs=[str(warc)], sort=True).process_all()
        with atomic_output(out_path) as fh, zipfile.ZipFile(fh, "w") as zf:
            packed = [
                _pack(zf, warc, f"archive/{WARC_NAME}", zipfile.ZIP_STORED),
                _pack(zf, index, "indexes/index.cdx", zipfile.ZIP_DEFLATED),
                _pack(zf, pages_path, "pages/pages.jsonl", zipfile.ZIP_DEFLATED),
            ]
            package = _datapackage(packed, selection, seeds, len(targets))
            info = zipfile.ZipInfo("datapackage.json", _zip_time())
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, json.dumps(package, indent=2, ensure_ascii=False))
    return ExportResult(out_path, counts["records"], len(targets), (), counts["originals"])


def _chain(first: Any, rest: Any) -> Any:
    yield first
    yield from rest


def _page(item: Exported, seed_titles: dict[str, str | None]) -> dict[str, object]:
    url = item.member.uri or item.row.url
    date = item.member.date or item.row.warc_date or item.row.fetched_at
    page: dict[str, object] = {"id": f"capture-{item.row.id}", "url": url,
                               "ts": _iso(date)}
    title = seed_titles.get(url) or item.row.title
    if title:
        page["title"] = title
    if url in seed_titles:
        page["rotwatch:seed"] = True  # the article itself, not a page it cites
    return page


def _iso(date: str) -> str:
    """A WARC-Date or stored time as the RFC 3339 UTC text pages.jsonl carries."""
    moment = parse_warc_date(date) if date.endswith("Z") else datetime.fromisoformat(date)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _zip_time() -> tuple[int, int, int, int, int, int]:
    return time.gmtime()[:6]


def _pack(zf: zipfile.ZipFile, source: Path, name: str, compression: int) -> PackedFile:
    info = zipfile.ZipInfo(name, _zip_time())
    info.compress_type = compression
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as src, zf.open(info, "w", force_zip64=True) as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
    return PackedFile(name, "sha256:" + digest.hexdigest(), size)


def _datapackage(packed: list[PackedFile], selection: ExportFilter, seeds: Any,
                 targets: int) -> dict[str, object]:
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    what = "every capture" if selection.all_captures else "the latest good capture"
    return {
        "profile": "data-package",
        "resources": [{"name": Path(p.path).name, "path": p.path, "hash": p.sha256,
                       "bytes": p.size} for p in packed],
        "wacz_version": WACZ_VERSION,
        "title": "rotwatch export",
        "description": f"{what} of {targets} cited target(s), with the originals of "
                       "their revisits",
        "created": created,
        "software": f"rotwatch {__version__}",
        "rotwatch": {
            "version": __version__,
            "seeds": [{"path": s.path, "url": s.url, "title": s.title} for s in seeds],
            "selection": {
                "seeds": list(selection.seeds), "states": list(selection.states),
                "since": selection.since.isoformat() if selection.since else None,
                "until": selection.until.isoformat() if selection.until else None,
                "all_captures": selection.all_captures},
        },
    }


