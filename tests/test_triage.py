"""Triage marks: the pure rule, the store's history, `rotwatch triage`, and the reports."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.store import CheckRow, Store, TargetUpdate
from core.policy import PastCheck
from core.records import Hop, Judgement, Observation, Verdict
from core.triage import (
    Mark,
    MarkEvent,
    TriageError,
    current,
    first_failure_after,
    latest,
    validate,
)
from rotwatch.cli import cli
from rotwatch.ingest import ingest_paths
from rotwatch.report import RENDERERS, build_report

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEAD = "https://dead.example/gone"
OTHER = "https://other.example/page"


def _at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


# ---------------------------------------------------------------------------- the rule


def _event(mark: Mark, hours: float, replacement: str | None = None) -> MarkEvent:
    return MarkEvent(mark, _at(hours), "ana", None, replacement)


@pytest.mark.parametrize(("mark", "verdict", "reopened"), [
    (Mark.FIXED, Verdict.BROKEN, True),  # still dead after the next check: back it comes
    (Mark.FIXED, Verdict.TIMEOUT, True),
    (Mark.FIXED, Verdict.BLOCKED, False),  # a 403 says nothing either way
    (Mark.FIXED, Verdict.OK, False),  # confirmed
    (Mark.IGNORED, Verdict.BROKEN, False),  # ignored holds until cleared
    (Mark.REPLACED, Verdict.BROKEN, False),  # the old URL failing is expected
])
def test_a_later_check_reopens_only_a_fixed_mark_and_only_by_failing(
        mark: Mark, verdict: Verdict, reopened: bool) -> None:
    history = [PastCheck(_at(0), Verdict.BROKEN), PastCheck(_at(2), verdict)]
    event = _event(mark, 1, "https://new.example/" if mark is Mark.REPLACED else None)
    triage = current(event, first_failure_after(history, event.marked_at))
    assert triage is not None and triage.mark is mark
    assert (triage.reopened_at == _at(2)) is reopened
    assert triage.in_effect is not reopened


def test_a_mark_is_about_the_checks_before_it() -> None:
    history = [PastCheck(_at(0), Verdict.BROKEN), PastCheck(_at(1), Verdict.BROKEN)]
    event = _event(Mark.FIXED, 1)  # same second as the last failure: that is what it fixed
    assert first_failure_after(history, event.marked_at) is None
    triage = current(event, None)
    assert triage is not None and triage.in_effect


def test_the_latest_mark_wins_and_cleared_means_no_mark() -> None:
    events = [_event(Mark.IGNORED, 1), _event(Mark.CLEARED, 2)]
    assert current(latest(events), None) is None
    events.append(_event(Mark.FIXED, 3))
    winner = latest(events)
    assert winner is not None and winner.mark is Mark.FIXED
    assert latest([]) is None


def test_bad_marks_are_refused_with_the_cause() -> None:
    with pytest.raises(TriageError, match="needs --replacement"):
        validate(Mark.REPLACED, None, None, "ana")
    with pytest.raises(TriageError, match="not a web URL"):
        validate(Mark.REPLACED, "javascript:alert(1)", None, "ana")
    with pytest.raises(TriageError, match="only goes with --mark replaced"):
        validate(Mark.FIXED, "https://x.example/", None, "ana")
    with pytest.raises(TriageError, match="longer than"):
        validate(Mark.IGNORED, None, "x" * 5000, "ana")
    with pytest.raises(TriageError, match="reviewer"):
        validate(Mark.IGNORED, None, None, "  ")
    assert validate(Mark.REPLACED, " https://New.example/a ", None, "ana") == \
        "https://new.example/a"


# ---------------------------------------------------------------- the store and the CLI


@dataclass(frozen=True)
class Fixture:
    data_dir: Path
    db_path: Path

    def base(self) -> list[str]:
        return ["--data-dir", str(self.data_dir)]


def _check(target_id: int, url: str, when: datetime, verdict: Verdict) -> CheckRow:
    status = 200 if verdict.is_healthy else 404
    return CheckRow(target_id, when, Observation(url=url, hops=(Hop(url, status),)),
                    Judgement(verdict, f"{verdict.value} in the test"))


def add_checks(db_path: Path, url: str, verdicts: list[tuple[datetime, Verdict]],
               state: str) -> None:
    with Store(db_path) as st:
        tid = st.db.conn.execute("SELECT id FROM targets WHERE url = ?", [url]).fetchone()[0]
        rows = [_check(tid, url, when, v) for when, v in verdicts]
        last = verdicts[-1][0]
        update = TargetUpdate(tid, state, last, verdicts[-1][1].value, 3, T0, last, None, last,
                              last + timedelta(days=1))
        st.transaction(lambda: (st.insert_checks(rows, None), st.update_targets([update])))


@pytest.fixture
def fx(tmp_path: Path) -> Fixture:
    data_dir = tmp_path / "data"
    db_path = data_dir / "rotwatch.db"
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name in ("alpha", "beta"):
        (seeds / f"{name}.html").write_text(
            f"<html><head><title>Article {name}</title></head><body><p>See "
            f'<a href="{DEAD}">the source</a> and <a href="{OTHER}">more</a>.</p></body></html>',
            encoding="utf-8")
    with Store(db_path) as st:
        ingest_paths(st, [str(seeds)], now=T0 - timedelta(days=10), max_seed_bytes=1_000_000)
    add_checks(db_path, DEAD, [(T0 - timedelta(days=d), Verdict.BROKEN) for d in (3, 2, 1)],
               "dead")
    return Fixture(data_dir, db_path)


def _json_links(runner: CliRunner, fx: Fixture) -> tuple[int, list[dict]]:
    done = runner.invoke(cli, [*fx.base(), "report", "--format", "json"])
    data = json.loads(done.stdout)
    return done.exit_code, [link for seed in data["seeds"] for link in seed["links"]]


def test_a_fixed_mark_silences_the_link_until_it_fails_again(fx: Fixture) -> None:
    runner = CliRunner()
    code, links = _json_links(runner, fx)
    assert code == 2 and {link["triage"] for link in links} == {None}
    done = runner.invoke(cli, [*fx.base(), "triage", DEAD, "--mark", "fixed", "--note",
                               "the site is back", "--reviewer", "Ana Editor"])
    assert done.exit_code == 0, done.output
    assert "fixed by Ana Editor" in done.output
    code, links = _json_links(runner, fx)
    assert code == 0, "a dead link marked fixed no longer fails the report"
    text = runner.invoke(cli, [*fx.base(), "report"]).stdout
    assert "2 link(s), 2 marked by a reviewer" in text
    marks = [link["triage"] for link in links if link["target_url"] == DEAD]
    assert len(marks) == 2  # cited by both articles; the mark is about the URL
    mark = marks[0]
    assert (mark["mark"], mark["reviewer"], mark["note"]) == ("fixed", "Ana Editor",
                                                              "the site is back")
    assert mark["in_effect"] and mark["reopened_at"] is None
    marked_at = datetime.fromisoformat(mark["marked_at"])
    # The next check finds it still dead: the mark is re-opened and the report fails again.
    add_checks(fx.db_path, DEAD, [(marked_at + timedelta(hours=1), Verdict.BROKEN)], "dead")
    code, links = _json_links(runner, fx)
    mark = next(link["triage"] for link in links if link["target_url"] == DEAD)
    assert code == 2 and not mark["in_effect"]
    assert mark["reopened_at"] == (marked_at + timedelta(hours=1)).isoformat()
    listing = runner.invoke(cli, [*fx.base(), "triage", DEAD])
    assert listing.exit_code == 0 and "1 mark(s)" in listing.output
    assert "re-opened by a failing check" in listing.output


def test_marks_keep_their_history_and_a_seed_scoped_mark_stays_in_its_article(
        fx: Fixture) -> None:
    runner = CliRunner()
    steps = [["--mark", "ignored", "--seed", "alpha"],
             ["--mark", "replaced", "--replacement", "https://new.example/source", "--seed",
              "alpha"]]
    for step in steps:
        done = runner.invoke(cli, [*fx.base(), "triage", DEAD, *step, "--reviewer", "bo"])
        assert done.exit_code == 0, done.output
    with Store(fx.db_path) as st:
        tid = st.target_for(DEAD, DEAD)
        assert tid is not None
        history = st.mark_history(tid[0])
    assert [r.event.mark for r in history] == [Mark.IGNORED, Mark.REPLACED]
    assert all(r.seed_path and r.seed_path.endswith("alpha.html") for r in history)
    code, links = _json_links(runner, fx)
    by_seed = {link["anchor_text"] + str(i): link for i, link in enumerate(links)}
    marked = [x for x in by_seed.values() if x["triage"]]
    assert len(marked) == 1 and marked[0]["triage"]["replacement"] == \
        "https://new.example/source"
    assert code == 2, "beta still cites the dead link unmarked"
    done = runner.invoke(cli, [*fx.base(), "triage", DEAD, "--clear", "--seed", "alpha"])
    assert done.exit_code == 0
    assert all(link["triage"] is None for link in _json_links(runner, fx)[1])


@pytest.mark.parametrize(("args", "message"), [
    (["https://never.example/x", "--mark", "fixed"], "no recorded link has the URL"),
    ([DEAD, "--mark", "replaced"], "needs --replacement"),
    ([DEAD, "--mark", "fixed", "--clear"], "either --mark or --clear"),
    ([DEAD, "--mark", "ignored", "--seed", "gamma"], "no article matching --seed"),
])
def test_bad_triage_input_is_one_line_and_records_nothing(fx: Fixture, args: list[str],
                                                          message: str) -> None:
    done = CliRunner().invoke(cli, [*fx.base(), "triage", *args])
    assert done.exit_code == 1 and message in done.output
    assert "Traceback" not in done.output and len(done.output.strip().splitlines()) == 1
    with Store(fx.db_path) as st:
        assert st.db.conn.execute("SELECT count(*) FROM triage_marks").fetchone()[0] == 0


def test_the_history_cannot_be_rewritten_and_the_sql_view_agrees(fx: Fixture) -> None:
    CliRunner().invoke(cli, [*fx.base(), "triage", DEAD, "--mark", "fixed", "--reviewer", "x"])
    conn = sqlite3.connect(fx.db_path)
    with pytest.raises(sqlite3.IntegrityError, match="history"):
        conn.execute("UPDATE triage_marks SET mark = 'ignored'")
    with pytest.raises(sqlite3.IntegrityError, match="history"):
        conn.execute("DELETE FROM triage_marks")
    with pytest.raises(sqlite3.IntegrityError, match="no checked link"):
        conn.execute("INSERT INTO triage_marks (target_id, mark, reviewer, marked_at) VALUES "
                     "((SELECT id FROM targets WHERE url = 'https://x.example/'), 'fixed', "
                     "'x', '2026-01-01T00:00:00+00:00')")
    assert {r[0] for r in conn.execute("SELECT triage FROM link_triage")} == {"fixed"}
    conn.close()
    marked_at = T0 + timedelta(days=400)  # after the mark, whatever today is
    add_checks(fx.db_path, DEAD, [(marked_at, Verdict.SERVER_ERROR)], "dead")
    conn = sqlite3.connect(fx.db_path)
    assert {r[0] for r in conn.execute("SELECT triage FROM link_triage")} == {"reopened"}
    conn.close()
    with Store(fx.db_path) as st:
        report = build_report(st, T0)
    assert all(not link.triage.in_effect for link in report.links if link.triage)


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_every_format_shows_the_mark(fx: Fixture, fmt: str) -> None:
    CliRunner().invoke(cli, [*fx.base(), "triage", DEAD, "--mark", "replaced", "--replacement",
                             "https://new.example/r", "--note", "story edited",
                             "--reviewer", "Chen"])
    with Store(fx.db_path) as st:
        text = RENDERERS[fmt](build_report(st, T0))
    for part in ("replaced", "https://new.example/r", "Chen", "story edited"):
        assert part in text, (fmt, part)


def test_a_mark_in_effect_counts_for_check_and_run_as_for_report(fx: Fixture) -> None:
    # `check` and `run` exit 2 by the same rule as `report` (core.exitcodes): a marked link
    # stops nagging there too, and a mark scoped to one article leaves the other nagging.
    from archive.store import Selection
    from core.exitcodes import DEFAULT_FAIL_ON
    from rotwatch.check import attention_count

    def attention() -> int:
        with Store(fx.db_path) as st:
            return attention_count(st, Selection(), DEFAULT_FAIL_ON)

    assert attention() == 1
    runner = CliRunner()
    one = runner.invoke(cli, [*fx.base(), "triage", DEAD, "--mark", "ignored", "--seed", "alpha"])
    assert one.exit_code == 0, one.output
    assert attention() == 1, "beta still cites the dead link unmarked"
    both = runner.invoke(cli, [*fx.base(), "triage", DEAD, "--mark", "ignored"])
    assert both.exit_code == 0, both.output
    assert attention() == 0
