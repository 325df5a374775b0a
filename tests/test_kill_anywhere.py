"""Kill anywhere: a crawl SIGKILLed at random moments loses nothing committed and recovers.

The campaign itself (mock server, seed, kills, audits) is tests/scripts/kill_anywhere.py,
also runnable by hand for longer runs. Seeds are random unless ROTWATCH_KILL_SEED is set;
the seed is printed and is in every failure message, so a failure can be replayed.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.warc.writer import OPEN_SUFFIX, Exchange, SnapshotWriter, iter_records
from tests.conftest import MockServer
from tests.helpers import REPO_ROOT, query, rotwatch, write_config
from tests.scripts.crash_audit import Auditor
from tests.scripts.kill_anywhere import Campaign, Report, kill_tree, run_campaign


def _seed() -> int:
    chosen = os.environ.get("ROTWATCH_KILL_SEED")
    return int(chosen) if chosen else random.SystemRandom().randrange(2**32)


def _assert_survived(report: Report, kills: int) -> None:
    replay = f"replay with ROTWATCH_KILL_SEED={report.seed}"
    assert report.tried == kills, f"only {report.tried} of {kills} kills landed ({replay})"
    assert report.failures() == [], f"{replay}: {report.failures()}"
    assert report.final_exit in (0, 2)
    # at least one kill while checks were being committed (not only during start-up)
    assert any(r.killed and r.phase == "crawl" for r in report.rounds), replay


def test_kills_during_a_crawl_of_1000_links(tmp_path: Path) -> None:
    report = run_campaign(Campaign(links=1000, kills=4, seed=_seed()), tmp_path)
    _assert_survived(report, 4)


@pytest.mark.slow
@pytest.mark.timeout(3600)  # ~20 whole runs of 3,000 links on a small machine
def test_twenty_kills_during_crawls_of_3000_links(tmp_path: Path) -> None:
    report = run_campaign(Campaign(links=3000, kills=20, seed=_seed()), tmp_path)
    _assert_survived(report, 20)


def _open_file_with_a_cut_tail(warcs: Path, tail_bytes: int) -> tuple[Path, int]:
    """A `.open` WARC as a killed writer leaves it: 20 whole exchanges, then `tail_bytes` of
    a record that never finished (zeros: not gzip, so the scan stops right there)."""
    with SnapshotWriter(warcs) as writer:
        for i in range(20):
            last = writer.write(Exchange(
                url=f"https://cut.example/{i}", method="GET", request_headers=(), status=200,
                reason="OK", http_version="HTTP/1.1", response_headers=(), body=os.urandom(500),
                truncated=False, fetched_at=datetime.now(UTC), ip_address=None))
    final = warcs / last.warc_file
    whole = final.stat().st_size
    with open(final, "r+b") as fh:
        fh.truncate(whole + tail_bytes)  # sparse: cheap to make, real bytes to copy
    return final.rename(final.with_name(final.name + OPEN_SUFFIX)), whole


def test_a_recovery_killed_mid_copy_is_finished_by_the_next_run(tmp_path: Path) -> None:
    # `check` starts by recovering `.open` files: it copies the cut tail to `.partial`,
    # truncates, renames. Killed between the copy and the truncation, it leaves a `.partial`
    # beside an untouched `.open`; the next run must still recover (it used to stop on
    # FileExistsError, every run, until someone deleted the file by hand).
    data = tmp_path / "data"
    config = write_config(tmp_path / "c.toml", processes=1)
    for tail in (256, 512, 1024):  # MiB; a bigger tail if the copy outran the poll
        warcs = data / "warcs"
        shutil.rmtree(warcs, ignore_errors=True)
        warcs.mkdir(parents=True)
        leftover, whole = _open_file_with_a_cut_tail(warcs, tail * 2**20)
        partial = warcs / (leftover.name.removesuffix(OPEN_SUFFIX) + ".partial")
        child = subprocess.Popen(
            [sys.executable, "-m", "rotwatch", "--data-dir", str(data), "--config", str(config),
             "check"], cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        try:
            while not partial.exists() and time.monotonic() < deadline and child.poll() is None:
                time.sleep(0.001)
            kill_tree(child.pid)
        finally:
            child.wait(timeout=30)
        if leftover.exists() and leftover.stat().st_size == whole + tail * 2**20:
            break  # killed after the copy began and before the truncation: the case wanted
    else:
        pytest.fail("never killed a recovery between its copy and its truncation")
    assert partial.exists()
    again = rotwatch(data, "check", config=config)
    assert again.returncode == 0, again.stderr[-2000:]
    assert not leftover.exists() and not list(warcs.glob("*.open"))
    final = warcs / leftover.name.removesuffix(OPEN_SUFFIX)
    assert final.stat().st_size == whole
    assert partial.stat().st_size == tail * 2**20  # the cut bytes are kept, whole
    assert sum(r.record_type == "response" for r in iter_records(final)) == 20
    verified = rotwatch(data, "verify", config=config)
    # The file is whole again; its records were never recorded in the store (they were
    # written here, not by a crawl), which is the one thing verify reports.
    assert verified.stdout.splitlines() == [
        f"{final.name}: no snapshot row names this file (an interrupted run leaves one "
        "when it is killed before recording its checks): its records are in no export"]


def test_the_audit_sees_what_a_kill_could_break(mockserver: MockServer, tmp_path: Path
                                                ) -> None:
    # The campaign above passes only if the audit finds nothing: show it finds each breach.
    seed = tmp_path / "seed.md"
    seed.write_text("".join(f"- [p]({mockserver.url(f'/bench/200/audit-{i}', 1 + i % 2)})\n"
                            for i in range(12)))
    data, config = tmp_path / "data", write_config(tmp_path / "c.toml", processes=1)
    assert rotwatch(data, "ingest", str(seed), config=config).returncode == 0
    assert rotwatch(data, "check", "--allow-private", config=config).returncode == 0
    auditor = Auditor(data)
    before = auditor.committed()
    assert auditor.store_problems(before) == []
    assert auditor.snapshot_problems() == ([], 0)
    (name,) = {r[0] for r in query(data, "SELECT warc_file FROM snapshots")}
    conn = sqlite3.connect(data / "rotwatch.db")
    with conn:
        conn.execute("DELETE FROM checks WHERE id = (SELECT max(id) FROM checks)")
        conn.execute("UPDATE snapshots SET warc_offset = warc_offset + 1 WHERE id = 1")
    conn.close()
    assert "checks: rows committed before the run changed" in " ".join(
        auditor.store_problems(before))
    problems, _ = Auditor(data).snapshot_problems()
    assert len(problems) == 1 and problems[0].startswith("snapshot 1:")
    (data / "warcs" / name).rename(data / "warcs" / "elsewhere")
    problems, _ = Auditor(data).snapshot_problems()
    assert len(problems) == 12 and all("is missing" in p for p in problems)
