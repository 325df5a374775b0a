"""Dead-link reports: which cited links are in trouble, where they are cited, and why.

`build_report` reads the store into frozen dataclasses; each renderer is a pure function
`Report -> str`. Anchor text, context, reasons and URLs come from strangers: every
renderer escapes them for its format. See docs/reports.md.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from urllib.parse import quote

from archive.store import ArchivedCopy, ProblemLink, Store
from archive.store import SnapshotRef as Snapshot
from archive.store.db import to_db
from core.escaping import csv_cell, json_safe, one_line
from core.escaping import markdown_text as _md
from core.triage import Triage
from rotwatch.report_review import (
    COPY_FIELDS,
    TRIAGE_FIELDS,
    TriageNote,
    copy_cells,
    copy_label,
    copy_text,
    mark_text,
    note_of,
    silenced,
)

# Severity order: what a reviewer must act on comes first. Anything else sorts last.
PROBLEM_STATES: tuple[str, ...] = ("dead", "failing", "changed", "moved", "recovered", "blocked")
FAILED_STATES = frozenset({"dead", "failing"})  # JUnit failures
_RANK = {state: rank for rank, state in enumerate(PROBLEM_STATES)}


@dataclass(frozen=True)
class ReportLink:
    target_url: str
    state: str
    role: str
    anchor_text: str | None
    context: str | None
    last_verdict: str | None
    reason: str | None
    status: int | None
    first_failure_at: str | None
    consecutive_failures: int
    last_ok_at: str | None
    last_checked_at: str | None
    final_url: str | None  # only when the last check was redirected elsewhere
    snapshot: Snapshot | None  # the last capture taken while the page was healthy, if any
    triage: TriageNote | None = None
    # A web-archive copy near the citation date (`rotwatch suggest` caches them).
    suggestion: ArchivedCopy | None = None


@dataclass(frozen=True)
class SeedSection:
    path: str
    url: str | None
    title: str | None
    links: tuple[ReportLink, ...]


@dataclass(frozen=True)
class Report:
    generated_at: str
    states: tuple[str, ...]  # the states selected into the report
    totals: tuple[tuple[str, int], ...]  # targets by state (cited by the selected seeds)
    seeds: tuple[SeedSection, ...]

    @property
    def links(self) -> tuple[ReportLink, ...]:
        return tuple(link for seed in self.seeds for link in seed.links)

    def count(self, state: str) -> int:
        return sum(link.state == state for link in self.links)

    @property
    def needs_attention(self) -> bool:
        """What makes `rotwatch report` exit 2: a dead link (failing ones may recover)
        that no reviewer has marked (a mark re-opened by a later failure counts again)."""
        return any(link.state == "dead" and not silenced(link.triage) for link in self.links)

    @property
    def summary(self) -> str:
        return ", ".join(f"{state}={n}" for state, n in self.totals) or "no checked targets"


def build_report(store: Store, now: datetime, *, states: Iterable[str] | None = None,
                 seeds: Iterable[str] = ()) -> Report:
    """Problem links grouped by seed (`seeds`: path substrings, as `rotwatch links --seed`),
    worst seeds first, links by severity then document order. Links that left their
    article are not reported."""
    wanted = tuple(states) if states is not None else PROBLEM_STATES
    seeds = tuple(seeds)
    grouped: dict[str, tuple[str | None, str | None, list[ReportLink]]] = {}
    marks = store.link_triage(seeds)
    copies = store.archived_copies(seeds)
    for row in store.problem_links(wanted, seeds):
        key = (row.seed_path, row.target_id)
        grouped.setdefault(row.seed_path, (row.seed_url, row.seed_title, []))[2].append(
            _link(row, marks.get(key), copies.get(key)))
    sections = sorted(
        (SeedSection(path, url, title, tuple(sorted(links, key=lambda x: _RANK.get(x.state, 99))))
         for path, (url, title, links) in grouped.items()),
        key=lambda s: (-sum(x.state == "dead" for x in s.links),
                       -sum(x.state == "failing" for x in s.links), s.path))
    ordered = sorted(store.state_totals(seeds), key=lambda t: (_RANK.get(t[0], 9), t))
    return Report(to_db(now) or "", wanted, tuple(ordered), tuple(sections))


def _link(row: ProblemLink, triage: Triage | None = None,
          copy: ArchivedCopy | None = None) -> ReportLink:
    moved = row.final_url and row.final_url != row.checked_url
    return ReportLink(
        target_url=row.target_url, state=row.state, role=row.role,
        anchor_text=row.anchor_text, context=row.context, last_verdict=row.last_verdict,
        reason=row.reason, status=row.status, first_failure_at=row.first_failure_at,
        consecutive_failures=row.consecutive_failures, last_ok_at=row.last_ok_at,
        last_checked_at=row.last_checked_at, final_url=row.final_url if moved else None,
        snapshot=row.snapshot, triage=note_of(triage), suggestion=copy)


# --------------------------------------------------------------------------- renderers

# Every value from outside goes through core.escaping: one_line (terminal escapes, C1
# and bidi controls, newlines) and, for Markdown, markdown_text (_md); html.escape on top for HTML.


def _why(link: ReportLink) -> str:
    parts = (link.last_verdict, f"HTTP {link.status}" if link.status else "", link.reason)
    return " · ".join(one_line(p) for p in parts if p)


def _mark(link: ReportLink) -> str:
    return mark_text(link.triage) if link.triage else ""


def _copy(link: ReportLink) -> str:
    return copy_text(link.suggestion) if link.suggestion else ""


def _snap(link: ReportLink) -> str:
    s = link.snapshot
    return f"snapshot #{s.id} of {s.fetched_at}" if s else "no snapshot"


def render_text(report: Report) -> str:
    """For a terminal: one block per seed, one indented entry per link."""
    out = [f"rotwatch report {report.generated_at}: {len(report.links)} problem link(s)",
           f"targets by state: {report.summary}", ""]
    for seed in report.seeds:
        out.append(f"{one_line(seed.title or seed.path)} ({one_line(seed.path)})")
        for link in seed.links:
            out += [f"  [{link.state.upper()}] {one_line(link.target_url)}",
                    f"      {one_line(link.role)}: “{one_line(link.anchor_text)}” — {_why(link)}"]
            out += [f"      now at {one_line(link.final_url)}"] if link.final_url else []
            out += [f"      {_mark(link)}"] if link.triage else []
            out += [f"      {_copy(link)}"] if link.suggestion else []
            since = f"failing since {link.first_failure_at}, " if link.first_failure_at else ""
            out.append(f"      {since}{link.consecutive_failures} failure(s) in a row, "
                       f"last ok {link.last_ok_at or 'never'}, {_snap(link)}")
        out.append("")
    return "\n".join(out)


# Only web URLs become links: a `javascript:` href would run in the reader's browser.
_WEB = re.compile(r"https?://", re.IGNORECASE)


def _md_link(url: str) -> str:
    # Percent-encode what would end a Markdown link destination early.
    target = quote(one_line(url), safe=":/?#@!$&'*+,;=%~[]")
    return f"[{_md(url)}]({target})" if _WEB.match(url or "") else _md(url)


def _md_mark(link: ReportLink) -> str:
    if link.triage is None:
        return ""
    new = link.triage.replacement
    return "<br>" + _md(mark_text(link.triage, with_url=False)) + (
        f" → {_md_link(new)}" if new else "")


def _md_copy(link: ReportLink) -> str:
    c = link.suggestion
    return f"<br>{_md(copy_label(c))}: {_md_link(c.url)}" if c else ""


def render_markdown(report: Report) -> str:
    """For an issue, a pull request or a wiki: a table per seed."""
    out = [f"# Link report, {report.generated_at}", "",
           f"{len(report.links)} problem link(s). Targets by state: {_md(report.summary)}.", ""]
    for seed in report.seeds:
        out += [f"## {_md(seed.title or seed.path)}", "",
                f"Seed `{one_line(seed.path).replace('`', '')}`"
                + (f", {_md_link(seed.url)}" if seed.url else ""), "",
                "| state | link | anchor text | role | why | since | last ok | snapshot |",
                "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for link in seed.links:
            moved = f" → {_md_link(link.final_url)}" if link.final_url else ""
            out.append(
                f"| **{link.state}** | {_md_link(link.target_url)}{moved} | "
                f"{_md(link.anchor_text)} | {_md(link.role)} | {_md(_why(link))}"
                f"{_md_mark(link)}{_md_copy(link)} | "
                f"{_md(link.first_failure_at or '')} ({link.consecutive_failures}×) | "
                f"{_md(link.last_ok_at or 'never')} | {_md(_snap(link))} |")
        out.append("")
    return "\n".join(out)


def _a(url: str | None) -> str:
    text = html.escape(one_line(url))
    return f'<a href="{html.escape(str(url))}" rel="noopener noreferrer">{text}</a>' \
        if _WEB.match(url or "") else text


_CSS = ("body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:78em}table{border-"
        "collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3em;text-align:left}"
        ".dead{background:#fdd}.failing{background:#fed}.changed,.moved{background:#ffd}")
_HEAD = "<table><tr>" + "".join(f"<th>{h}</th>" for h in (
    "state", "link", "cited as", "why", "history", "snapshot")) + "</tr>"


def _html_copy(link: ReportLink) -> str:
    c = link.suggestion
    return f"<br>{html.escape(copy_label(c))}: {_a(c.url)}" if c else ""


def render_html(report: Report) -> str:
    """One self-contained page (inline CSS, no scripts) to mail or publish."""
    e = html.escape
    when = e(report.generated_at)
    out = [f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>rotwatch '
           f"report {when}</title><style>{_CSS}</style></head><body><h1>Link report, {when}</h1>"
           f"<p>{len(report.links)} problem link(s). Targets by state: {e(report.summary)}.</p>"]
    for seed in report.seeds:
        out.append(f"<h2>{e(one_line(seed.title or seed.path))}</h2><p><small>"
                   f"{e(one_line(seed.path))}</small> {_a(seed.url)}</p>{_HEAD}")
        for link in seed.links:
            moved = f"<br>now at {_a(link.final_url)}" if link.final_url else ""
            out.append(
                f'<tr class="{e(link.state)}"><td>{e(link.state)}</td>'
                f"<td>{_a(link.target_url)}{moved}</td>"
                f"<td>“{e(one_line(link.anchor_text))}” <small>({e(one_line(link.role))})</small>"
                f"<br><small>{e(one_line(link.context))}</small></td><td>{e(_why(link))}"
                f"{'<br><b>' + e(_mark(link)) + '</b>' if link.triage else ''}"
                f"{_html_copy(link)}</td>"
                f"<td>first failure {e(link.first_failure_at or '—')}, "
                f"{link.consecutive_failures} in a row; last ok {e(link.last_ok_at or 'never')}"
                f"</td><td>{e(_snap(link))}</td></tr>")
        out.append("</table>")
    return "\n".join([*out, "</body></html>\n"])


_LINK_FIELDS = tuple(f.name for f in fields(ReportLink)
                     if f.name not in ("snapshot", "triage", "suggestion"))
CSV_COLUMNS = ("seed_path", "seed_url", "seed_title", *_LINK_FIELDS, "snapshot_id", "snapshot_at",
               *(f"triage_{name}" for name in TRIAGE_FIELDS),
               *(f"suggestion_{name}" for name in COPY_FIELDS))


def render_csv(report: Report) -> str:
    """For spreadsheets: one row per problem link, one column per field."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for seed in report.seeds:
        for link in seed.links:
            snap = link.snapshot
            writer.writerow([csv_cell(v) for v in (
                seed.path, seed.url, seed.title, *(getattr(link, n) for n in _LINK_FIELDS),
                snap.id if snap else None, snap.fetched_at if snap else None,
                *(getattr(link.triage, n) if link.triage else None for n in TRIAGE_FIELDS),
                *copy_cells(link.suggestion))])
    return buf.getvalue()


def render_json(report: Report) -> str:
    """For scripts: the whole report, nested as in the dataclasses."""
    data = asdict(report)
    data["totals"] = dict(report.totals)
    return json_safe(json.dumps(data, ensure_ascii=False, indent=2)) + "\n"


# ElementTree escapes markup but not the characters XML 1.0 forbids outright.
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(value: object) -> str:
    return _XML_INVALID.sub("\ufffd", "" if value is None else str(value))


def _fails(link: ReportLink) -> bool:
    """A JUnit failure: dead or failing, unless a reviewer's mark is in effect."""
    return link.state in FAILED_STATES and not silenced(link.triage)


def render_junit(report: Report) -> str:
    """For CI dashboards: a suite per seed, a testcase per link, dead/failing ones fail."""
    failures = sum(_fails(link) for link in report.links)
    root = ET.Element("testsuites", name="rotwatch", tests=str(len(report.links)),
                      failures=str(failures), timestamp=report.generated_at)
    for seed in report.seeds:
        suite = ET.SubElement(root, "testsuite", name=_x(seed.path), tests=str(len(seed.links)),
                              failures=str(sum(_fails(x) for x in seed.links)),
                              errors="0", skipped="0", timestamp=report.generated_at)
        for link in seed.links:
            case = ET.SubElement(suite, "testcase", classname=_x(seed.path),
                                 name=_x(link.target_url))
            failed = _fails(link)
            node = ET.SubElement(case, "failure" if failed else "system-out")
            if failed:
                node.attrib.update(type=link.state, message=_x(f"{link.state}: {_why(link)}"))
            node.text = _x(f"state: {link.state}\nwhy: {_why(link)}\nanchor: "
                           f"{one_line(link.anchor_text)}\nfirst failure: {link.first_failure_at}"
                           f"\n{_snap(link)}" + (f"\n{_mark(link)}" if link.triage else "")
                           + (f"\n{_copy(link)}" if link.suggestion else ""))
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


RENDERERS = {"text": render_text, "markdown": render_markdown, "html": render_html,
             "csv": render_csv, "json": render_json, "junit": render_junit}
