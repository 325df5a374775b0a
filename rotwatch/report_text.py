"""The report as text, Markdown, CSV, JSON and JUnit: each a stream of strings per section.

Every renderer is `iter_<format>(report) -> Iterator[str]`, reading `report.seeds` once,
so a report of any size is written as it is read. Anchor text, context, reasons and URLs
come from strangers: every value from outside goes through core.escaping (one_line for
terminal escapes, C1 and bidi controls and newlines; markdown_text, csv_cell, json_safe).
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from core.escaping import csv_cell, json_safe, one_line
from core.escaping import markdown_text as _md
from core.when import local, state_age
from rotwatch.report_model import FAILED_STATES, Report, ReportLink, SeedSection, Suggestion
from rotwatch.report_review import TRIAGE_FIELDS, mark_text, silenced


def _why(link: ReportLink) -> str:
    """The technical reason: verdict, HTTP status and the checker's own words."""
    parts = (link.last_verdict, f"HTTP {link.status}" if link.status else "", link.reason)
    return " · ".join(one_line(p) for p in parts if p)


def _snap(link: ReportLink, report: Report) -> str:
    s = link.snapshot
    if s is None:
        return "no capture"
    what = "baseline capture" if link.snapshot_kind == "baseline" else "capture"
    return f"{what} #{s.id} of {local(s.fetched_at, report.zone)}"


def suggestion_text(s: Suggestion | None, report: Report) -> str:
    """One line: what to do, then where that advice comes from."""
    if s is None:
        return ""
    if s.kind == "new-url" and s.url:
        return f"link to {one_line(s.url)} (source: {s.source})"
    if s.kind == "capture" and s.snapshot:
        return (f"read rotwatch's capture #{s.snapshot.id} of "
                f"{local(s.snapshot.fetched_at, report.zone)} (source: {s.source})")
    if s.kind == "web-archive" and s.url:
        return (f"link to the archived copy {one_line(s.url)} of "
                f"{local(s.captured_at, report.zone)} (source: {one_line(s.source)})")
    return f"{one_line(s.url or s.note)} (source: {one_line(s.source)})"


def _age(link: ReportLink, report: Report) -> str:
    now = datetime.fromisoformat(report.generated_at) if report.generated_at else None
    return state_age(link.state, link.state_since, now) if now else ""


def _uptime(link: ReportLink) -> str:
    if link.uptime is None:
        return ""
    return f"up {link.uptime:g} % of the last {len(link.history)} check(s)"


def marked_note(report: Report) -> str:
    """", N marked by a reviewer" when reviewers' marks silence some of the links."""
    quiet = sum(n for _, n in report.silenced)
    return f", {quiet} marked by a reviewer" if quiet else ""


def iter_text(report: Report) -> Iterator[str]:
    """For a terminal: one block per seed, one indented entry per link."""
    yield (f"rotwatch report {local(report.generated_at, report.zone)}: "
           f"{report.link_total} link(s){marked_note(report)}\ntargets by state: "
           f"{report.summary}\n\n"
           + ("" if report.link_total else "No link needs attention.\n"))
    for seed in report.seeds:
        out = [f"{one_line(seed.title or seed.path)} ({one_line(seed.path)})"]
        for link in seed.links:
            age = _age(link, report)
            out += [f"  [{link.state.upper()}] {one_line(link.target_url)}"
                    + (f" — {age}" if age else ""),
                    f"      {one_line(link.explanation)}",
                    f"      {one_line(link.role)}: “{one_line(link.anchor_text)}” — {_why(link)}"]
            out += [f"      now at {one_line(link.final_url)}"] if link.final_url else []
            if link.suggestion:
                out.append(f"      suggested: {suggestion_text(link.suggestion, report)}")
            out += [f"      {_mark(link, report)}"] if link.triage else []
            since = f"failing since {local(link.first_failure_at, report.zone)}, " \
                if link.first_failure_at else ""
            last_ok = local(link.last_ok_at, report.zone) or "never"
            out.append(f"      {since}{link.consecutive_failures} failure(s) in a row, "
                       f"last ok {last_ok}, {_snap(link, report)}"
                       + (f", {_uptime(link)}" if link.uptime is not None else ""))
        yield "\n".join(out) + "\n\n"


# Only web URLs become links: a `javascript:` href would run in the reader's browser.
WEB = re.compile(r"https?://", re.IGNORECASE)


_MD_SAFE = ":/?#@!$&'*+,;=%~[]"


def _md_link(url: str) -> str:
    # Percent-encode what would end a Markdown link destination early.
    target = quote(one_line(url), safe=_MD_SAFE)
    return f"[{_md(url)}]({target})" if WEB.match(url or "") else _md(url)


# The same few texts (reasons, ages, roles) again and again: escape each once.
_md_cached = lru_cache(maxsize=4096)(_md)


def _mark(link: ReportLink, report: Report) -> str:
    """The reviewer's mark in one line, times in the report's zone; "" without one."""
    return mark_text(link.triage, lambda at: local(at, report.zone)) if link.triage else ""


def _md_mark(link: ReportLink, report: Report) -> str:
    t = link.triage
    if t is None:
        return ""
    text = _md(mark_text(t, lambda at: local(at, report.zone), with_url=False))
    return "<br>" + text + (f" → {_md_link(t.replacement)}" if t.replacement else "")


def _md_suggestion(s: Suggestion | None, report: Report) -> str:
    """The suggestion with its URL as a working link (web URLs only)."""
    if s is not None and s.url and s.kind in ("new-url", "web-archive"):
        what = "the archived copy " if s.kind == "web-archive" else ""
        when = f" of {_md(local(s.captured_at, report.zone))}" if s.captured_at else ""
        return f"link to {what}{_md_link(s.url)}{when} (source: {_md(s.source)})"
    return _md(suggestion_text(s, report))


def iter_markdown(report: Report) -> Iterator[str]:
    """For an issue, a pull request or a wiki: a table per seed."""
    yield (f"# Link report, {local(report.generated_at, report.zone)}\n\n"
           f"{report.link_total} link(s). Targets by state: {_md(report.summary)}.\n\n")
    for seed in report.seeds:
        title = _md(seed.title or seed.path)
        if seed.url and WEB.match(seed.url):
            title = f"[{title}]({quote(one_line(seed.url), safe=_MD_SAFE)})"
        out = [f"## {title}", "", f"Seed `{one_line(seed.path).replace('`', '')}`", "",
               "| state | link | what happened | cited as | suggested fix | history |",
               "| --- | --- | --- | --- | --- | --- |"]
        for link in seed.links:
            moved = f" → {_md_link(link.final_url)}" if link.final_url else ""
            age = _age(link, report)
            out.append(
                f"| **{link.state}**{' (' + _md_cached(age) + ')' if age else ''} | "
                f"{_md_link(link.target_url)}{moved} | {_md_cached(link.explanation)} "
                f"<br>{_md_cached(_why(link))} | “{_md(link.anchor_text)}” "
                f"({_md_cached(link.role)}) | "
                f"{_md_suggestion(link.suggestion, report)}"
                f"{_md_mark(link, report)} | "
                f"{_md_cached(_uptime(link))} |")
        yield "\n".join(out) + "\n\n"


_LINK_FIELDS = tuple(f.name for f in fields(ReportLink)
                     if f.name not in ("snapshot", "suggestion", "suggestions", "triage"))
_OUTSIDE = frozenset({"target_url", "anchor_text", "context", "reason", "final_url", "host",
                      "error_message"})
CSV_COLUMNS = ("seed_path", "seed_url", "seed_title", *_LINK_FIELDS, "snapshot_id",
               "snapshot_at", "suggestion", "suggestion_source", "snapshot_warc_file",
               "snapshot_warc_offset", *(f"triage_{name}" for name in TRIAGE_FIELDS))
# The mark's note, reviewer and replacement are typed by people: neutralised like page text.
_TRIAGE_OUTSIDE = frozenset({"reviewer", "note", "replacement"})


def _triage_cells(link: ReportLink) -> list[object]:
    t = link.triage
    if t is None:
        return [None] * len(TRIAGE_FIELDS)
    return [csv_cell(getattr(t, n)) if n in _TRIAGE_OUTSIDE else getattr(t, n)
            for n in TRIAGE_FIELDS]


def iter_csv(report: Report) -> Iterator[str]:
    """For spreadsheets: one row per link, one column per field."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for seed in report.seeds:
        where = [csv_cell(seed.path), csv_cell(seed.url), csv_cell(seed.title)]
        for link in seed.links:
            snap, hint = link.snapshot, link.suggestion
            fields_ = vars(link)
            writer.writerow([
                *where,
                # Text from outside is neutralised; the other fields are rotwatch's own.
                *(csv_cell(fields_[n]) if n in _OUTSIDE else fields_[n] for n in _LINK_FIELDS),
                snap.id if snap else None, snap.fetched_at if snap else None,
                csv_cell(suggestion_text(hint, report)) if hint else None,
                csv_cell(hint.source) if hint else None, snap.warc_file if snap else None,
                snap.warc_offset if snap else None, *_triage_cells(link)])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


_LEAVES = frozenset({str, int, float, bool, type(None)})
_RECORDS: set[type] = set()


def _plain(value: Any) -> Any:
    # dataclasses.asdict deep-copies every value and asks is_dataclass of every leaf;
    # this copies each record's __dict__ (its fields, in order) and converts only the
    # nested records: a report of 100,000 links has over 3 million values.
    kind = type(value)
    if kind in _LEAVES:
        return value
    if kind is tuple or kind is list:
        return [_plain(v) for v in value]
    if kind in _RECORDS or (is_dataclass(value) and not isinstance(value, type)):
        _RECORDS.add(kind)
        return {k: v if type(v) in _LEAVES else _plain(v) for k, v in vars(value).items()}
    return value


def _json(value: Any, indent: int | None = None) -> str:
    # Without indent json.dumps runs its C encoder: each seed is written on one line.
    return json_safe(json.dumps(value, ensure_ascii=False, indent=indent))


def iter_json(report: Report) -> Iterator[str]:
    """For scripts: the whole report, nested as in the dataclasses (docs/reports.md)."""
    head = {"generated_at": report.generated_at, "states": list(report.states),
            "totals": dict(report.totals), "timezone": report.timezone,
            "link_counts": dict(report.link_counts), "hosts": _plain(report.hosts),
            "runs": _plain(report.runs)}
    yield _json(head, indent=1)[:-2] + ',\n "seeds": ['
    first = True
    for seed in report.seeds:
        yield ("\n" if first else ",\n") + _json(_plain(seed))
        first = False
    yield "\n ]\n}\n"


# ElementTree escapes markup but not the characters XML 1.0 forbids outright.
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(value: object) -> str:
    return _XML_INVALID.sub("\ufffd", "" if value is None else str(value))


def _fails(link: ReportLink) -> bool:
    """A JUnit failure: dead or failing, unless a reviewer's mark is in effect."""
    return link.state in FAILED_STATES and not silenced(link.triage)


def _suite(seed: SeedSection, report: Report) -> str:
    suite = ET.Element("testsuite", name=_x(seed.path), tests=str(len(seed.links)),
                       failures=str(sum(_fails(x) for x in seed.links)),
                       errors="0", skipped="0", timestamp=report.generated_at)
    for link in seed.links:
        case = ET.SubElement(suite, "testcase", classname=_x(seed.path),
                             name=_x(link.target_url))
        failed = _fails(link)
        node = ET.SubElement(case, "failure" if failed else "system-out")
        if failed:
            node.attrib.update(type=link.state,
                               message=_x(f"{link.state}: {one_line(link.explanation)}"))
        node.text = _x(f"state: {link.state}\nwhat happened: {one_line(link.explanation)}\n"
                       f"why: {_why(link)}\nanchor: {one_line(link.anchor_text)}\n"
                       f"first failure: {link.first_failure_at}\n{_snap(link, report)}\n"
                       f"suggested: {suggestion_text(link.suggestion, report)}"
                       + (f"\n{_mark(link, report)}" if link.triage else ""))
    return ET.tostring(suite, encoding="unicode")


def iter_junit(report: Report) -> Iterator[str]:
    """For CI dashboards: a suite per seed, a testcase per link, dead/failing ones fail."""
    failures = sum(report.unmarked(state) for state in FAILED_STATES)
    yield ("<?xml version='1.0' encoding='utf-8'?>\n"
           f'<testsuites name="rotwatch" tests="{report.link_total}" failures="{failures}" '
           f'timestamp="{_x(report.generated_at)}">')
    for seed in report.seeds:
        yield _suite(seed, report)
    yield "</testsuites>\n"
