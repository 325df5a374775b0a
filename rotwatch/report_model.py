"""The report's records and how they are built from the store: one frozen record per link.

`stream_report` reads the store with one query plan (archive/store/problems.py) and
yields the seeds' sections one at a time, so a report of any size is rendered as it is
read; `build_report` is the same, held whole. Every renderer (report_text.py,
report_html.py) reads only these records. See docs/reports.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from itertools import groupby

from archive.store import ArchivedCopy, ProblemLink, Store
from archive.store import SnapshotRef as Snapshot
from archive.store.db import to_db
from archive.store.problems import RunPoint
from core.explain import plain_reason
from core.history import uptime
from core.language import guess_lang
from core.triage import Triage
from rotwatch.report_review import TriageNote, note_of

# Severity order: what a reviewer must act on comes first. Anything else sorts last.
PROBLEM_STATES: tuple[str, ...] = ("dead", "failing", "changed", "moved", "recovered", "blocked")
ALL_STATES: tuple[str, ...] = (*PROBLEM_STATES, "alive", "new")
FAILED_STATES = frozenset({"dead", "failing"})  # JUnit failures
_RANK = {state: rank for rank, state in enumerate(ALL_STATES)}
# The states a capture or a new address is offered for: a reader would rather not click
# through to the live page.
_NEEDS_FIX = frozenset({"dead", "failing", "changed", "moved", "blocked"})
HISTORY_SHOWN = 30  # checks drawn per link (the store keeps up to core.history.WINDOW)
HOSTS_SHOWN = 12


@dataclass(frozen=True)
class Suggestion:
    """What to link or read instead, and who says so.

    `kind`: "new-url" (the address a permanent redirect leads to; source "redirect"),
    "capture" (rotwatch's own capture; source "rotwatch") or "web-archive" (a copy near the
    citation date found by `rotwatch suggest`; source "memento", "memento-timegate" or
    "wayback"). Other kinds may be added; readers must skip kinds they do not know.
    """

    kind: str
    source: str
    url: str | None = None
    snapshot: Snapshot | None = None
    note: str = ""
    captured_at: str | None = None  # web-archive: when the copy was captured


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
    snapshot: Snapshot | None  # the capture to read instead (never an error page)
    # Added by issue 11 (fields are only ever added, see docs/reports.md):
    host: str = ""
    state_since: str | None = None
    explanation: str = ""  # the plain-language reason
    error_kind: str | None = None
    error_message: str | None = None
    similarity: float | None = None  # changed: of today's text to the cited one, 0..1
    snapshot_kind: str | None = None  # "baseline" (changed) or "last-healthy"
    history: str = ""  # the last checks, one core.history letter each, oldest first
    uptime: float | None = None  # percent of informative checks in `history` that worked
    suggestion: Suggestion | None = None  # the first of `suggestions`
    suggestions: tuple[Suggestion, ...] = ()
    # Where the last check was made from (a fleet's vantage label); its reason says what a
    # second vantage saw, when one was asked.
    vantage: str | None = None
    triage: TriageNote | None = None  # a reviewer's mark (docs/review.md)


@dataclass(frozen=True)
class SeedSection:
    path: str
    url: str | None
    title: str | None
    links: tuple[ReportLink, ...]
    lang: str | None = None  # guessed from the seed's own text (core/language.py)


@dataclass(frozen=True)
class HostRow:
    host: str
    problems: int  # targets in a problem state
    dead: int
    failing: int
    targets: int  # all checkable targets on the host


@dataclass(frozen=True)
class Report:
    """A report. `seeds` is a tuple (build_report) or a one-pass iterator (stream_report)."""

    generated_at: str
    states: tuple[str, ...]  # the states selected into the report
    totals: tuple[tuple[str, int], ...]  # targets by state (cited by the selected seeds)
    seeds: Iterable[SeedSection]
    link_counts: tuple[tuple[str, int], ...] = ()  # reported links by state
    hosts: tuple[HostRow, ...] = ()  # the hosts with the most problem targets
    runs: tuple[RunPoint, ...] = ()  # the last check runs, oldest first
    timezone: str = "UTC"
    zone: tzinfo = UTC
    # Reported links by state whose reviewer's mark is in effect: they do not fail the report.
    silenced: tuple[tuple[str, int], ...] = ()

    @property
    def links(self) -> tuple[ReportLink, ...]:
        return tuple(link for seed in self.seeds for link in seed.links)

    @property
    def link_total(self) -> int:
        return sum(n for _, n in self.link_counts)

    def count(self, state: str) -> int:
        return dict(self.link_counts).get(state, 0)

    def unmarked(self, state: str) -> int:
        """Reported links in `state` that no reviewer's mark silences."""
        return self.count(state) - dict(self.silenced).get(state, 0)

    @property
    def summary(self) -> str:
        return ", ".join(f"{state}={n}" for state, n in self.totals) or "no checked targets"


def stream_report(store: Store, now: datetime, *, states: Iterable[str] | None = None,
                  seeds: Iterable[str] = (), zone: tzinfo = UTC,
                  timezone: str = "UTC") -> Report:
    """The report with its sections read lazily: render it while `store` is open."""
    wanted = tuple(states) if states is not None else PROBLEM_STATES
    seeds = tuple(seeds)
    totals = sorted(store.state_totals(seeds), key=lambda t: (_RANK.get(t[0], 99), t))
    counts = sorted(store.link_counts(wanted, seeds).items(),
                    key=lambda t: (_RANK.get(t[0], 99), t))
    # Marks and archived copies are few: read whole, then joined to the streamed links.
    marks: dict[tuple[str, int], Triage] = {}
    quiet: dict[str, int] = {}
    for path, target_id, state, triage in store.link_triage_states(seeds):
        marks[(path, target_id)] = triage
        if state in wanted and triage.in_effect:
            quiet[state] = quiet.get(state, 0) + 1
    review = _Review(marks, store.archived_copies(seeds))
    return Report(to_db(now) or "", wanted, tuple(totals),
                  _sections(store.problem_links(wanted, seeds), review), tuple(counts),
                  _hosts(store.host_states(seeds)), tuple(store.check_run_points()),
                  timezone, zone, tuple(sorted(quiet.items())))


def build_report(store: Store, now: datetime, *, states: Iterable[str] | None = None,
                 seeds: Iterable[str] = (), zone: tzinfo = UTC, timezone: str = "UTC"
                 ) -> Report:
    """Problem links grouped by seed (`seeds`: path substrings, as `rotwatch links --seed`),
    worst seeds first, links by severity then document order. Links that left their
    article are not reported."""
    report = stream_report(store, now, states=states, seeds=seeds, zone=zone,
                           timezone=timezone)
    return replace(report, seeds=tuple(report.seeds))


@dataclass(frozen=True)
class _Review:
    """What reviewers added, by (seed path, target id): marks and web-archive copies."""

    marks: dict[tuple[str, int], Triage]
    copies: dict[tuple[str, int], ArchivedCopy]


def _sections(rows: Iterator[ProblemLink], review: _Review | None = None
              ) -> Iterator[SeedSection]:
    review = review or _Review({}, {})
    # The query returns each seed's links together, already in order.
    for _, group in groupby(rows, key=lambda r: r.seed_path):
        first, *rest = group
        links = tuple(_link(r, review) for r in (first, *rest))
        # The title says most about the article's language; its link text when it has none.
        lang = guess_lang([first.seed_title]) or guess_lang(
            [*(x.context for x in links[:5]), *(x.anchor_text for x in links[:20])])
        yield SeedSection(first.seed_path, first.seed_url, first.seed_title, links, lang)


def _hosts(rows: list[tuple[str, str, int]]) -> tuple[HostRow, ...]:
    tally: dict[str, list[int]] = {}
    for host, state, n in rows:
        counts = tally.setdefault(host, [0, 0, 0, 0])
        counts[0] += n if state in PROBLEM_STATES and state != "recovered" else 0
        counts[1] += n if state == "dead" else 0
        counts[2] += n if state == "failing" else 0
        counts[3] += n
    ranked = sorted((HostRow(h, *c) for h, c in tally.items() if c[0]),
                    key=lambda r: (-r.dead, -r.failing, -r.problems, r.host))
    return tuple(ranked[:HOSTS_SHOWN])


def _link(row: ProblemLink, review: _Review) -> ReportLink:
    key = (row.seed_path, row.target_id)
    moved = row.final_url and row.final_url != row.checked_url
    final_url = row.final_url if moved else None
    if row.state == "changed":
        snapshot, kind = row.baseline, "baseline" if row.baseline else None
    else:
        snapshot, kind = row.snapshot, "last-healthy" if row.snapshot else None
    suggestions = _suggestions(row.state, final_url, snapshot, kind, review.copies.get(key))
    history = row.recent_checks[-HISTORY_SHOWN:]
    return ReportLink(
        target_url=row.target_url, state=row.state, role=row.role,
        anchor_text=row.anchor_text, context=row.context, last_verdict=row.last_verdict,
        reason=row.reason, status=row.status, first_failure_at=row.first_failure_at,
        consecutive_failures=row.consecutive_failures, last_ok_at=row.last_ok_at,
        last_checked_at=row.last_checked_at, final_url=final_url, snapshot=snapshot,
        host=row.host, state_since=row.state_since,
        explanation=plain_reason(row.state, row.last_verdict, row.status, row.error_kind,
                                 row.similarity),
        error_kind=row.error_kind, error_message=row.error_message,
        similarity=row.similarity, snapshot_kind=kind, history=history,
        uptime=uptime(history), suggestion=suggestions[0] if suggestions else None,
        suggestions=suggestions, vantage=row.vantage,
        triage=note_of(review.marks.get(key)))


def _suggestions(state: str, final_url: str | None, snapshot: Snapshot | None,
                 kind: str | None, copy: ArchivedCopy | None = None
                 ) -> tuple[Suggestion, ...]:
    """The fixes, in the order to try them: the new address, then rotwatch's capture, then
    a web-archive copy near the citation date."""
    if state not in _NEEDS_FIX:
        return ()
    found: list[Suggestion] = []
    if state == "moved" and final_url:
        found.append(Suggestion("new-url", "redirect", url=final_url,
                                note="Link to the new address: the old one redirects there."))
    if snapshot is not None:
        note = ("Read the copy rotwatch kept when the link was first checked."
                if kind == "baseline" else
                "Read the last copy rotwatch kept while the page worked.")
        found.append(Suggestion("capture", "rotwatch", snapshot=snapshot, note=note))
    if copy is not None:
        found.append(Suggestion("web-archive", copy.source, url=copy.url,
                                note="Link to the web archive's copy from about when the "
                                     "article cited the page.", captured_at=copy.captured_at))
    return tuple(found)
