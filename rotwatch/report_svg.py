"""Inline SVG pictures for the HTML report: a link's last checks, problems per run, hosts.

Inline markup only (no script, no fetch), sized by viewBox so it scales on a phone, with
a <title> per shape for the numbers behind it. Colours per check class are CSS classes
(report_html.py), so print and high-contrast styles can change them in one place.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import tzinfo
from functools import lru_cache

from archive.store.problems import RunPoint
from core.history import class_of, runs, verdict_of
from core.when import local
from rotwatch.report_model import HostRow

_CELL = 6  # width of one check in the strip, in viewBox units
_HEIGHT = 14


@lru_cache(maxsize=4096)  # most links share a few histories ("all worked", "all failed")
def strip(history: str, shown: int) -> str:
    """One rectangle per run of equal verdicts over the last `shown` checks, oldest left."""
    parts = runs(history, shown)
    if not parts:
        return ""
    total = sum(p.length for p in parts)
    width = total * _CELL
    out = [f'<svg class="strip" viewBox="0 0 {width} {_HEIGHT}" width="{width}" '
           f'height="{_HEIGHT}" role="img" aria-label="last {total} checks">']
    for p in parts:
        what = verdict_of(p.code)
        label = f"check {p.start + 1}" if p.length == 1 else \
            f"checks {p.start + 1}–{p.start + p.length}"
        out.append(f'<rect class="c-{class_of(p.code).value}" x="{p.start * _CELL}" y="0" '
                   f'width="{p.length * _CELL - 1}" height="{_HEIGHT}"><title>{label} of '
                   f"{total}: {what}</title></rect>")
    out.append("</svg>")
    return "".join(out)


def runs_chart(points: Sequence[RunPoint], zone: tzinfo) -> str:
    """Bars: targets that failed (and that could not be told) in each check run."""
    if not points:
        return ""
    top = max(max(p.failed + p.neutral for p in points), 1)
    bar, gap, height = 12, 4, 100
    width = len(points) * (bar + gap)
    out = [f'<svg class="chart" viewBox="0 0 {width} {height + 2}" preserveAspectRatio="none" '
           f'role="img" aria-label="failed targets per check run">']
    for i, p in enumerate(points):
        x = i * (bar + gap)
        failed_h = round(height * p.failed / top, 1)
        neutral_h = round(height * p.neutral / top, 1)
        when = html.escape(local(p.started_at, zone))
        tip = (f"<title>run {p.run_id}, {when}: {p.failed} failed, {p.neutral} could not "
               f"be told, of {p.checked} checked</title>")
        out.append(f'<g>{tip}<rect class="c-failure" x="{x}" y="{height - failed_h}" '
                   f'width="{bar}" height="{failed_h}"/><rect class="c-neutral" x="{x}" '
                   f'y="{height - failed_h - neutral_h}" width="{bar}" height="{neutral_h}"/>'
                   f'<rect class="hit" x="{x}" y="0" width="{bar}" height="{height}"/></g>')
    out.append("</svg>")
    return "".join(out)


def hosts_chart(hosts: Sequence[HostRow]) -> str:
    """A table, one host a row, with a bar: dead, failing and other problem targets."""
    if not hosts:
        return ""
    top = max(max(h.problems for h in hosts), 1)
    out = ['<table class="hosts"><tr><th>site</th><th>problem targets</th><th></th></tr>']
    for h in hosts:
        widths = (100 * h.dead / top, 100 * h.failing / top,
                  100 * (h.problems - h.dead - h.failing) / top)
        x = 0.0
        bars = []
        for css, w in zip(("s-dead", "s-failing", "s-other"), widths, strict=True):
            bars.append(f'<rect class="{css}" x="{x:.1f}" y="0" width="{w:.1f}" height="10"/>')
            x += w
        tip = f"{h.dead} dead, {h.failing} failing, {h.problems} problem(s) of {h.targets}"
        out.append(f"<tr><td>{html.escape(h.host)}</td><td>"
                   f'<svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" '
                   f'role="img" aria-label="{tip}"><title>{tip}</title>{"".join(bars)}</svg>'
                   f"</td><td>{h.problems} of {h.targets}</td></tr>")
    out.append("</table>")
    return "".join(out)
