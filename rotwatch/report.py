"""Dead-link reports: which cited links are in trouble, where they are cited, what to do.

The one entry point for reports: the records and their building (report_model.py), the
renderers (report_text.py, report_html.py), and `RENDERERS`/`STREAMERS` by format name.
Each `render_<format>(report) -> str` is the whole text; each streamer yields it in parts.
See docs/reports.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from rotwatch.report_html import iter_html
from rotwatch.report_model import (
    ALL_STATES,
    FAILED_STATES,
    PROBLEM_STATES,
    HostRow,
    Report,
    ReportLink,
    SeedSection,
    Suggestion,
    build_report,
    stream_report,
)
from rotwatch.report_text import (
    CSV_COLUMNS,
    iter_csv,
    iter_json,
    iter_junit,
    iter_markdown,
    iter_text,
)

Streamer = Callable[[Report], Iterator[str]]
STREAMERS: dict[str, Streamer] = {
    "text": iter_text, "markdown": iter_markdown, "html": iter_html, "csv": iter_csv,
    "json": iter_json, "junit": iter_junit}


def _whole(streamer: Streamer) -> Callable[[Report], str]:
    def render(report: Report) -> str:
        return "".join(streamer(report))

    render.__doc__ = streamer.__doc__
    return render


render_text = _whole(iter_text)
render_markdown = _whole(iter_markdown)
render_html = _whole(iter_html)
render_csv = _whole(iter_csv)
render_json = _whole(iter_json)
render_junit = _whole(iter_junit)
RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": render_text, "markdown": render_markdown, "html": render_html, "csv": render_csv,
    "json": render_json, "junit": render_junit}

__all__ = ["ALL_STATES", "CSV_COLUMNS", "FAILED_STATES", "PROBLEM_STATES", "RENDERERS",
           "STREAMERS", "HostRow", "Report", "ReportLink", "SeedSection", "Suggestion",
           "build_report", "render_csv", "render_html", "render_json", "render_junit",
           "render_markdown", "render_text", "stream_report"]
