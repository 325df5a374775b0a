"""The pure pieces of a report: plain reasons, ages, history letters, language guesses, and
the m003 migration that gives targets of an older store their history and capture."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlite_utils import Database

from archive.store import CheckRow, SnapshotRow, Store
from archive.store.schema import migrations
from core.explain import LEGEND, plain_reason
from core.history import WINDOW, CheckClass, append, class_of, runs, uptime
from core.language import guess_lang
from core.records import ErrorKind, Hop, Judgement, Observation, Verdict
from core.when import age, local, state_age
from rotwatch.timezone import UnknownZone, resolve_zone


@pytest.mark.parametrize(("args", "words"), [
    (("dead", "broken", 410, None), "The server says this page is gone (HTTP 410)."),
    (("dead", "soft-404", 200, None), "The site answered, but the page says 'Page not found'."),
    (("failing", "connection-failed", None, "refused"), "Could not connect: the server refused."),
    (("failing", "dns-failure", None, "dns"), "The site's name does not lead anywhere any more "
                                               "(no DNS record)."),
    (("blocked", "blocked", 403, None), "The site refused to show the page to rotwatch "
                                        "(HTTP 403), so nobody could tell whether it works."),
    (("moved", "redirected", 200, None), "The page has moved for good: the old address "
                                         "redirects to a new one."),
    (("new", None, None, None), "Not checked yet."),
    (("dead", "no-such-verdict", None, None), "The last check ended as 'no-such-verdict'."),
])
def test_plain_reasons(args: tuple[str, str | None, int | None, str | None], words: str) -> None:
    assert plain_reason(*args) == words


def test_every_verdict_and_error_has_words_and_every_state_a_legend() -> None:
    for verdict in Verdict:
        for error in (None, *ErrorKind):
            text = plain_reason("failing", verdict.value, 500, error.value if error else None)
            assert text.endswith(".") and "None" not in text
    assert [state for state, _ in LEGEND] == ["dead", "failing", "changed", "moved",
                                              "recovered", "blocked", "alive", "new"]


def test_ages_and_local_times() -> None:
    assert age(30) == "less than a minute" and age(3600 * 5) == "5 hours"
    assert age(86400 * 12) == "12 days" and age(86400 * 59) == "59 days"
    assert age(86400 * 90) == "3 months" and age(86400 * 800) == "2 years"
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert state_age("dead", "2026-02-17T12:00:00+00:00", now) == "dead for 12 days"
    assert state_age("moved", "2026-02-28T12:00:00+00:00", now) == "moved 1 day ago"
    assert state_age("dead", None, now) == "" and local("garbage", UTC) == ""
    assert local("2026-07-01T10:00:00+00:00", ZoneInfo("Europe/Berlin")) == "2026-07-01 12:00 CEST"


def test_history_letters() -> None:
    codes = ""
    for verdict in [Verdict.OK] * (WINDOW + 5) + [Verdict.BROKEN, Verdict.BLOCKED]:
        codes = append(codes, verdict)
    assert len(codes) == WINDOW and codes.endswith("obk")
    assert [class_of(c) for c in "obk?"] == [CheckClass.HEALTHY, CheckClass.FAILURE,
                                            CheckClass.NEUTRAL, CheckClass.UNKNOWN]
    assert [(r.start, r.length, r.code) for r in runs("oobbo", 4)] == [(0, 1, "o"), (1, 2, "b"),
                                                                       (3, 1, "o")]
    assert uptime("oobk") == pytest.approx(66.7) and uptime("kkx") is None


@pytest.mark.parametrize(("texts", "lang"), [
    (["布林肯与王毅会面"], "zh"), (["東京の天気は晴れです"], "ja"), (["서울 날씨"], "ko"),
    (["Новости дня"], "ru"), (["Blinken meets Wang Yi"], None), ([None, ""], None),
])
def test_language_guess(texts: list[str | None], lang: str | None) -> None:
    assert guess_lang(texts) == lang


def test_report_zone() -> None:
    assert resolve_zone("Asia/Shanghai")[1] == "Asia/Shanghai"
    zone, name = resolve_zone("local")
    assert datetime.now(zone).utcoffset() is not None and name
    with pytest.raises(UnknownZone, match="Mars/Olympus"):
        resolve_zone("Mars/Olympus")


def test_m003_gives_an_older_store_its_histories(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(path)
    migrations.apply(db, stop_before="m003_i11_report_summaries")
    db.execute("INSERT INTO targets (id, key, url, host, checkable, first_seen_at) VALUES "
               "(1, 'k', 'https://a.example/', 'a.example', 1, '2026-01-01T00:00:00+00:00')")
    db.execute("INSERT INTO snapshots (id, target_id, fetched_at, url, warc_file, warc_offset, "
               "warc_length, payload_digest, record_type) VALUES (7, 1, "
               "'2026-01-01T00:00:00+00:00', 'u', 'f.warc.gz', 0, 10, 'sha1:x', 'response'), "
               "(8, 1, '2026-01-03T00:00:00+00:00', 'u', 'f.warc.gz', 10, 10, 'sha1:y', "
               "'response')")
    # Out of insertion order on purpose: the letters follow the check times.
    for day, verdict, snap in ((3, "broken", 8), (1, "ok", 7), (2, "timeout", None)):
        db.execute("INSERT INTO checks (target_id, checked_at, url, verdict, snapshot_id) "
                   "VALUES (1, ?, 'u', ?, ?)", [f"2026-01-0{day}T00:00:00+00:00", verdict, snap])
    db.conn.commit()
    db.close()
    with Store(path) as store:  # opening applies m003
        row = store.db.execute("SELECT recent_checks, good_snapshot_id FROM targets").fetchone()
        assert row == ("otb", 7)  # the 404 page captured on day 3 is never the one offered
        when = datetime(2026, 1, 4, tzinfo=UTC)
        ok = SnapshotRow(when, "u", "f.warc.gz", 20, 10, "sha1:z", "response", None, None,
                         None, False)
        store.transaction(lambda: store.insert_checks(
            [CheckRow(1, when, Observation("u", (Hop("u", 200),)),
                      Judgement(Verdict.OK, "ok"), snapshot=ok),
             CheckRow(1, when + timedelta(days=1), Observation("u"),
                      Judgement(Verdict.DNS_FAILURE, "no name"))], None))
        row = store.db.execute("SELECT recent_checks, good_snapshot_id FROM targets").fetchone()
        assert row[0] == "otbod" and row[1] > 8
