"""One target's result as a node reports it: a typed record and its JSON form.

A node cannot write the store, so what the recorder would compute from the page body is
computed on the node (main text), and the rest travels as this record, one JSON line per
target (Scrapy's feed export writes the dicts `to_json` returns).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from archive.store.checks import CheckRow
from archive.store.validators import validators_from_db, validators_to_db
from core.exchange import ArchivedRecord
from core.records import Capture, ErrorKind, Hop, Judgement, Observation, Validators, Verdict


@dataclass(frozen=True)
class NodeCapture:
    """One archived response of the target (a hop, a retried attempt or the judged one),
    as the node's WARC writer placed it: what a local Recorder keeps per record."""

    record: ArchivedRecord
    url: str
    status: int
    warc_date: str  # its WARC-Date as written
    mime: str | None


@dataclass(frozen=True)
class NodeResult:
    target_id: int
    key: str
    host: str
    checked_at: datetime
    observation: Observation
    judgement: Judgement
    vantage: str
    archived: ArchivedRecord | None = None
    main_title: str | None = None
    main_text: str | None = None  # None: not a page, or extraction failed
    # A check the local recorder prepared and held for confirmation (rotwatch/cluster/
    # held.py): recorded as it is (snapshots, drift), with this result's date and verdict.
    row: CheckRow | None = None
    validators: Validators | None = None  # sent with the check (a 304 confirms them)
    captures: tuple[NodeCapture, ...] = ()  # every response archived for it, in order


def _record_json(record: ArchivedRecord) -> dict[str, Any]:
    capture = record.capture
    return {"warc_file": record.warc_file, "offset": record.offset, "length": record.length,
            "payload_digest": record.payload_digest, "record_type": record.record_type,
            "truncated": record.truncated,
            "capture": None if capture is None else [capture.uri, capture.date,
                                                     capture.payload_digest]}


def _record(a: dict[str, Any]) -> ArchivedRecord:
    capture = a.get("capture")
    return ArchivedRecord(str(a["warc_file"]), int(a["offset"]), int(a["length"]),
                          str(a["payload_digest"]),
                          "revisit" if a["record_type"] == "revisit" else "response",
                          truncated=bool(a["truncated"]),
                          capture=Capture(*(str(v) for v in capture)) if capture else None)


def to_json(result: NodeResult) -> dict[str, Any]:
    obs, judgement, archived = result.observation, result.judgement, result.archived
    return {
        "target_id": result.target_id, "key": result.key, "host": result.host,
        "checked_at": result.checked_at.isoformat(), "vantage": result.vantage,
        "observation": {
            "url": obs.url, "hops": [[h.url, h.status, h.location] for h in obs.hops],
            "error": obs.error.value if obs.error else None,
            "error_message": obs.error_message, "headers": [list(h) for h in obs.headers],
            "content_type": obs.content_type, "title": obs.title, "heading": obs.heading,
            "text": obs.text, "elapsed": obs.elapsed, "retries": obs.retries,
            "truncated": obs.truncated, "length": obs.length,
            "conditional": obs.conditional},
        "judgement": {"verdict": judgement.verdict.value, "reason": judgement.reason,
                      "permanent_redirect": judgement.permanent_redirect},
        "archived": None if archived is None else _record_json(archived),
        "main_title": result.main_title, "main_text": result.main_text,
        "validators": validators_to_db(result.validators),
        "captures": [{"record": _record_json(c.record), "url": c.url, "status": c.status,
                      "warc_date": c.warc_date, "mime": c.mime} for c in result.captures],
    }


def from_json(data: dict[str, Any]) -> NodeResult:
    """The record back; a missing or mistyped field raises KeyError/TypeError/ValueError."""
    o, j, a = data["observation"], data["judgement"], data["archived"]
    observation = Observation(
        url=str(o["url"]), hops=tuple(Hop(str(u), int(s), loc) for u, s, loc in o["hops"]),
        error=ErrorKind(o["error"]) if o["error"] else None,
        error_message=o["error_message"],
        headers=tuple((str(k), str(v)) for k, v in o["headers"]),
        content_type=o["content_type"], title=o["title"], heading=o["heading"],
        text=str(o["text"]), elapsed=float(o["elapsed"]), retries=int(o["retries"]),
        truncated=bool(o["truncated"]), length=int(o["length"]),
        conditional=bool(o.get("conditional", False)))
    archived = None if a is None else _record(a)
    captures = tuple(NodeCapture(_record(c["record"]), str(c["url"]), int(c["status"]),
                                 str(c["warc_date"]), c["mime"])
                     for c in data.get("captures", ()))
    return NodeResult(
        target_id=int(data["target_id"]), key=str(data["key"]), host=str(data["host"]),
        checked_at=datetime.fromisoformat(data["checked_at"]), vantage=str(data["vantage"]),
        observation=observation,
        judgement=Judgement(Verdict(j["verdict"]), str(j["reason"]),
                            j["permanent_redirect"]),
        archived=archived, main_title=data.get("main_title"),
        main_text=data.get("main_text"), validators=validators_from_db(data.get("validators")),
        captures=captures)
