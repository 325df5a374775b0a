"""The report as one self-contained HTML page: plain words first, the technical detail in
<details>, inline CSS and SVG, no script and nothing fetched; readable on a phone and on paper.

Every text from outside is escaped (core.escaping.one_line, then html.escape) and only
http(s) URLs become links.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime

from core.escaping import one_line
from core.explain import LEGEND
from core.when import local, state_age
from rotwatch.report_model import HISTORY_SHOWN, Report, ReportLink, SeedSection
from rotwatch.report_review import mark_text
from rotwatch.report_svg import hosts_chart, runs_chart, strip
from rotwatch.report_text import WEB, marked_note, suggestion_text

_SPECIAL = re.compile("[&<>\"']")


def e(text: str) -> str:
    """html.escape, without its five passes over the common text that needs none."""
    return html.escape(text) if _SPECIAL.search(text) else text

_CSS = """
:root{--dead:#b3261e;--failing:#c46200;--changed:#7a5b00;--moved:#1f5fa8;--recovered:#2e7d32;
--blocked:#5f6368;--alive:#2e7d32;--new:#5f6368;--ok:#4caf50;--bad:#d93025;--neutral:#b0b0b0}
body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:62em;padding:0 1em;color:#202124}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
a{color:#1a56a8;overflow-wrap:anywhere}
.badge{display:inline-block;padding:0 .5em;border-radius:1em;color:#fff;font-size:.85em;
font-weight:600;text-transform:uppercase;background:var(--new)}
.dead .badge,.badge.dead{background:var(--dead)}
.failing .badge,.badge.failing{background:var(--failing)}
.changed .badge,.badge.changed{background:var(--changed)}
.moved .badge,.badge.moved{background:var(--moved)}
.recovered .badge,.badge.recovered{background:var(--recovered)}
.blocked .badge,.badge.blocked{background:var(--blocked)}
.alive .badge,.badge.alive{background:var(--alive)}
ol.links{list-style:none;padding:0}
li.link{border:1px solid #ddd;border-left:6px solid var(--new);border-radius:6px;padding:.6em .9em;
margin:.8em 0;break-inside:avoid}
li.dead{border-left-color:var(--dead)}li.failing{border-left-color:var(--failing)}
li.changed{border-left-color:var(--changed)}li.moved{border-left-color:var(--moved)}
li.recovered{border-left-color:var(--recovered)}li.blocked{border-left-color:var(--blocked)}
li.link p{margin:.25em 0}.age{color:#555}.why{font-weight:600}
.cited{color:#444;font-size:.95em}.fix{background:#eef5ee;padding:.3em .5em;border-radius:4px}
.mark{background:#eef1f8;padding:.3em .5em;border-radius:4px}.reopened{background:#fbeaea}
.hist{display:flex;align-items:center;gap:.6em;font-size:.9em;color:#444;flex-wrap:wrap}
svg.strip{max-width:100%;height:14px}
.c-healthy{fill:var(--ok)}.c-failure{fill:var(--bad)}.c-neutral{fill:var(--neutral)}
.c-unknown{fill:#000}.hit{fill:transparent}
.s-dead{fill:var(--dead)}.s-failing{fill:var(--failing)}.s-other{fill:var(--neutral)}
svg.chart{width:100%;height:8em;border-bottom:1px solid #999}
table.hosts{border-collapse:collapse;width:100%}table.hosts td,table.hosts th{padding:.15em .4em;
text-align:left;overflow-wrap:anywhere}svg.bar{width:100%;min-width:6em;height:.8em}
details{margin-top:.3em}summary{cursor:pointer;color:#1a56a8}
dl.tech{display:grid;grid-template-columns:max-content 1fr;gap:.1em .8em;font-size:.9em;
margin:.3em 0}
dl.tech dt{color:#555}dl.tech dd{margin:0;overflow-wrap:anywhere}
dl.legend{display:grid;grid-template-columns:max-content 1fr;gap:.3em .8em}dl.legend dd{margin:0}
.overview{display:grid;grid-template-columns:1fr 1fr;gap:1.5em}
@media (max-width:40em){body{font-size:15px;padding:0 .5em}.overview{grid-template-columns:1fr}
dl.tech{grid-template-columns:1fr}dl.tech dt{font-weight:600}
dl.legend{font-size:.85em;gap:.2em .5em}
h1{font-size:1.3em}}
@media print{body{max-width:none;font-size:11pt;color:#000}a{color:#000}
li.link{border-color:#999}summary{display:none}
details::details-content{content-visibility:visible;display:block;block-size:auto}
.fix{background:none;border:1px solid #999}a[href^="http"]::after{content:" <" attr(href) ">";
font-size:.8em;color:#333}}
"""


def _a(url: str | None, text: str | None = None) -> str:
    shown = e(one_line(text if text is not None else url))
    return f'<a href="{e(str(url))}" rel="noopener noreferrer">{shown}</a>' \
        if url and WEB.match(url) else shown


def _lang(seed: SeedSection) -> str:
    return f' lang="{e(seed.lang)}"' if seed.lang else ""


def _tech(link: ReportLink, report: Report) -> str:
    zone = report.zone
    # Only the checker's reason and the error message come from outside; the rest is ours.
    outside = [("checker's reason", link.reason), ("error message", link.error_message),
               ("redirects to", link.final_url)]
    rows = [("verdict", link.last_verdict), ("HTTP status", link.status),
            ("error", link.error_kind), ("state since", local(link.state_since, zone)),
            ("first failure", local(link.first_failure_at, zone)),
            ("failures in a row", link.consecutive_failures),
            ("last worked", local(link.last_ok_at, zone) or "never"),
            ("last checked", local(link.last_checked_at, zone)),
            ("similarity to cited text", f"{link.similarity:.0%}"
             if link.similarity is not None else None)]
    if link.snapshot:
        s = link.snapshot
        rows.append(("capture", f"#{s.id} ({link.snapshot_kind}, {s.record_type}) of "
                                f"{local(s.fetched_at, zone)}, {s.warc_file} at offset "
                                f"{s.warc_offset}"))
    cells = "".join([*(f"<dt>{name}</dt><dd>{e(one_line(value))}</dd>"
                       for name, value in outside if value),
                     # Ours (verdicts, numbers, times we formatted): nothing to escape.
                     *(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in rows if value)])
    return f'<details><summary>Technical detail</summary><dl class="tech">{cells}</dl></details>'


def _fix(link: ReportLink, report: Report) -> str:
    if not link.suggestions:
        return ""
    items = []
    for s in link.suggestions:
        if s.kind == "new-url" and s.url:
            items.append(f"link to {_a(s.url)}")
        elif s.kind == "capture" and s.snapshot:
            items.append(f"read rotwatch's copy of {e(local(s.snapshot.fetched_at, report.zone))}"
                         f" (capture #{s.snapshot.id})")
        elif s.kind == "web-archive" and s.url:
            items.append(f"link to {_a(s.url, 'the archived copy')} of "
                         f"{e(local(s.captured_at, report.zone))}")
        else:
            items.append(e(suggestion_text(s, report)))
        items[-1] += f' <small class="source">source: {e(one_line(s.source))}</small>'
    return f'<p class="fix"><b>Suggested fix:</b> {"; or ".join(items)}</p>'


def _mark(link: ReportLink, report: Report) -> str:
    """The reviewer's mark (the replacement as a link); a re-opened one is shown as such."""
    t = link.triage
    if t is None:
        return ""
    kind = "mark" if t.in_effect else "mark reopened"
    text = e(mark_text(t, lambda at: local(at, report.zone), with_url=False))
    new = f" → {_a(t.replacement)}" if t.replacement else ""
    return f'<p class="{kind}"><b>Reviewed:</b> {text}{new}</p>'


def _link(link: ReportLink, seed: SeedSection, report: Report, now: datetime | None) -> str:
    age = state_age(link.state, link.state_since, now) if now else ""
    moved = f" → {_a(link.final_url)}" if link.final_url else ""
    lang = _lang(seed)
    context = (f'<br><span class="context"{lang}>{e(one_line(link.context))}</span>'
               if link.context else "")
    uptime = f"up {link.uptime:g} % of the last {len(link.history)} check(s)" \
        if link.uptime is not None else f"{len(link.history)} check(s)"
    history = (f'<p class="hist">{strip(link.history, HISTORY_SHOWN)}<span>{uptime}</span></p>'
               if link.history else "")
    return (f'<li class="link {e(link.state)}"><p><span class="badge">{e(link.state)}</span> '
            f"{_a(link.target_url)}{moved} <span class=\"age\">{e(age)}</span></p>"
            f'<p class="why">{e(link.explanation)}</p>'
            f'<p class="cited">Cited as <q{lang}>{e(one_line(link.anchor_text))}</q> '
            f"({e(one_line(link.role))}){context}</p>{_fix(link, report)}"
            f"{_mark(link, report)}{history}"
            f"{_tech(link, report)}</li>")


def _overview(report: Report) -> str:
    legend = "".join(f'<dt><span class="badge {state}">{state}</span></dt><dd>{e(text)}</dd>'
                     for state, text in LEGEND)
    runs = runs_chart(report.runs, report.zone)
    hosts = hosts_chart(report.hosts)
    parts = [f'<section class="legend"><h2>What the states mean</h2><dl class="legend">{legend}'
             "</dl></section>"]
    if runs or hosts:
        parts.append('<div class="overview">')
        if runs:
            parts.append(f'<section><h2>Failed targets per check run</h2>{runs}<p><small>Red: '
                         "failed; grey: the site did not let rotwatch tell. Oldest left, "
                         f"last {len(report.runs)} run(s).</small></p></section>")
        if hosts:
            parts.append(f"<section><h2>Sites with the most problems</h2>{hosts}</section>")
        parts.append("</div>")
    return "".join(parts)


def iter_html(report: Report) -> Iterator[str]:
    """One self-contained page (inline CSS and SVG, no scripts) to mail or publish."""
    when = e(local(report.generated_at, report.zone))
    now = datetime.fromisoformat(report.generated_at) if report.generated_at else None
    yield (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
           f'<meta name="viewport" content="width=device-width, initial-scale=1">'
           f"<title>rotwatch report {when}</title><style>{_CSS}</style></head><body>"
           f"<h1>Link report, {when}</h1><p>{report.link_total} link(s) listed "
           f"({e(', '.join(f'{n} {s}' for s, n in report.link_counts)) or 'none'})"
           f"{marked_note(report)}. "
           f"All targets by state: {e(report.summary)}. Times are in {e(report.timezone)}."
           f"</p>{'' if report.link_total else '<p><b>No link needs attention.</b></p>'}"
           f"{_overview(report)}")
    for seed in report.seeds:
        title = _a(seed.url, seed.title or seed.path) if seed.url else \
            e(one_line(seed.title or seed.path))
        items = "".join(_link(link, seed, report, now) for link in seed.links)
        yield (f'<section class="seed"><h2{_lang(seed)}>{title}</h2><p><small>'
               f'{e(one_line(seed.path))}</small></p><ol class="links">{items}</ol></section>\n')
    yield "</body></html>\n"
