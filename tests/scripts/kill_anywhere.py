"""Kill anywhere: SIGKILL a real `rotwatch check` at seeded random moments, then audit the store.

    python -m tests.scripts.kill_anywhere [--links 3000] [--kills 20] [--seed N] [--json]

One mock server (tests.mockserver) answers on 10 loopback hosts; one Markdown seed cites
``--links`` pages there (mostly 200s, some 404/301/500 and longer articles that go through
text extraction). A first uninterrupted ``check --all`` fills the archive and times a whole
run; then each round starts ``rotwatch check --all`` (snapshots on, two crawl processes) and
SIGKILLs its whole process tree at a moment drawn from the seeded RNG within that time
(the k-th kill within the k-th of ``--kills`` equal slices of it).
After every kill:

* ``PRAGMA integrity_check`` is "ok" and ``PRAGMA foreign_key_check`` finds nothing;
* every check and snapshot row committed before the round is still there, unchanged;
* every snapshot row names a record that warcio reads back at its offset, with the row's
  URL, record type and payload digest: in the final file, or in the ``.open`` file a killed
  writer left (the next run must recover that file without cutting the record: such rows
  are read again after the next round).

Then one uninterrupted ``check --all`` must end with exit 0 or 2, every target checked, no
``.open`` file left, no run still "running", and ``rotwatch verify`` reporting no problem.
Replay a failure with the printed seed (kill moments are seeded; what the crawl was doing
at that moment depends on the machine's speed).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from archive.warc.writer import OPEN_SUFFIX
from tests.conftest import MockServer
from tests.helpers import REPO_ROOT, query, rotwatch, write_config
from tests.mockserver import article_html
from tests.scripts.crash_audit import Auditor, kill_tree

HOSTS = 10
DELAY_MS = 5
RUN_TIMEOUT = 600.0  # one whole check; far above what 3,000 loopback links take


@dataclass(frozen=True)
class Campaign:
    links: int
    kills: int
    seed: int
    hosts: int = HOSTS
    delay_ms: int = DELAY_MS


@dataclass(frozen=True)
class Round:
    """One started run: where it was killed (or that it finished first) and what was found."""

    index: int
    moment: float  # seconds after the start at which the kill was due
    killed: bool  # False: the run ended on its own before the moment
    ran_s: float
    exit_code: int | None
    processes_killed: int
    checks_before: int
    checks_after: int
    snapshots_after: int
    rows_in_open_files: int
    problems: tuple[str, ...]

    @property
    def phase(self) -> str:
        """Where the kill landed, as the store shows it."""
        new = self.checks_after - self.checks_before
        if not self.killed:
            return "ended first"
        return "start-up" if new == 0 else "crawl"


@dataclass(frozen=True)
class Report:
    seed: int
    links: int
    full_run_s: float
    rounds: tuple[Round, ...]
    final_exit: int | None
    final_s: float
    final_problems: tuple[str, ...]
    total_s: float
    partial_files: int  # cut tails that recovery set aside (records a kill interrupted)

    @property
    def survived(self) -> int:
        return sum(1 for r in self.rounds if r.killed and not r.problems)

    @property
    def tried(self) -> int:
        return sum(1 for r in self.rounds if r.killed)

    def failures(self) -> list[str]:
        """Everything that broke an invariant, for an assertion message."""
        found = [f"round {r.index} ({'killed' if r.killed else 'ended'} at {r.moment} s): {p}"
                 for r in self.rounds for p in r.problems]
        return found + [f"final: {p}" for p in self.final_problems]


def url_for(server: MockServer, i: int, hosts: int) -> str:
    """The i-th target: mostly small 200 pages; articles, 404s, 301s and a few 500s."""
    path = {0: f"/page/kill-{i}", 1: f"/mutable/kill-{i}", 2: f"/bench/404/{i}",
            3: f"/bench/301/{i}", 4: f"/bench/500/{i}"}.get(i % 40, f"/bench/200/{i}")
    return server.url(path, 1 + i % hosts)


def refresh_pages(server: MockServer, links: int, hosts: int, run: int) -> None:
    """New articles at the /mutable/ targets for each run: every run then writes full
    response records, extracts main text (in the worker process) and indexes it."""
    for i in range(1, links, 40):
        server.set_page(f"kill-{i}", article_html(f"/kill-{i}/run-{run}"), host=1 + i % hosts)


def _start_check(data: Path, config: Path, log: Path) -> subprocess.Popen[bytes]:
    # Output to a file, not a pipe: nobody reads while the run goes, and a frozen reader
    # must not be what stops it.
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "rotwatch", "--data-dir", str(data), "--config",
             str(config), "check", "--all", "--allow-private"], cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def _kill_round(index: int, moment: float, data: Path, config: Path,
                auditor: Auditor) -> Round:
    before = auditor.committed()
    log = data.parent / f"round-{index}.log"
    child = _start_check(data, config, log)
    started = time.monotonic()
    killed, processes = False, 0
    try:
        while time.monotonic() - started < moment:
            if child.poll() is not None:
                break
            time.sleep(min(0.02, max(0.0, moment - (time.monotonic() - started))))
        else:
            processes = kill_tree(child.pid)
            killed = True
        child.wait(timeout=30)
        ran = time.monotonic() - started
    finally:
        if child.poll() is None:
            kill_tree(child.pid)
            child.wait(timeout=30)
    problems = auditor.store_problems(before)
    snap_problems, in_open = auditor.snapshot_problems()
    problems += snap_problems
    if not killed and child.returncode not in (0, 2):
        message = query(data, "SELECT message FROM runs ORDER BY id DESC LIMIT 1")[0][0]
        problems.append(f"the run ended by itself with exit code {child.returncode}: "
                        f"run message {message!r}; output "
                        f"{log.read_text(errors='replace')[-3000:]!r}")
    checks_after, snapshots_after = query(
        data, "SELECT (SELECT count(*) FROM checks), (SELECT count(*) FROM snapshots)")[0]
    return Round(index, round(moment, 3), killed, round(ran, 2),
                 None if killed else child.returncode,
                 processes, before["checks"][0], checks_after, snapshots_after, in_open,
                 tuple(problems[:20]))


def _final_problems(data: Path, config: Path, auditor: Auditor, exit_code: int) -> list[str]:
    problems = []
    if exit_code not in (0, 2):
        problems.append(f"final check exited {exit_code}")
    unchecked = query(data, "SELECT count(*) FROM targets t WHERE t.checkable = 1 AND NOT "
                            "EXISTS (SELECT 1 FROM checks c WHERE c.target_id = t.id)")[0][0]
    if unchecked:
        problems.append(f"{unchecked} target(s) without any check")
    left_open = sorted(p.name for p in (data / "warcs").glob(f"*{OPEN_SUFFIX}"))
    if left_open:
        problems.append(f".open files left after a clean run: {left_open[:5]}")
    running = query(data, "SELECT count(*) FROM runs WHERE status = 'running'")[0][0]
    if running:
        problems.append(f"{running} run(s) still marked running")
    snap_problems, _ = auditor.snapshot_problems()
    problems += snap_problems
    verified = rotwatch(data, "verify", config=config, timeout=RUN_TIMEOUT)
    # A kill before a crawl's first commit leaves a whole WARC file that no row names:
    # verify rightly reports it (no export carries it); nothing recorded was lost.
    others = [line for line in verified.stdout.splitlines()
              if "no snapshot row names this file" not in line]
    if verified.returncode not in (0, 1) or others:
        problems.append(f"verify exited {verified.returncode}: "
                        f"{(verified.stdout + verified.stderr)[-1500:]}")
    return problems


def run_campaign(campaign: Campaign, workdir: Path,
                 say: Callable[[str], None] = print) -> Report:
    """Ingest, one whole run, `kills` killed runs, one whole run, verify; see the docstring."""
    t0 = time.monotonic()
    say(f"kill-anywhere: seed={campaign.seed} links={campaign.links} kills={campaign.kills}")
    rng = random.Random(campaign.seed)
    data = workdir / "data"
    config = write_config(workdir / "rotwatch.toml", batch_size=20, processes=2,
                          warc_max_file_mb=0.25, timeout=10)
    with MockServer(hosts=[f"127.0.0.2-{1 + campaign.hosts}"], delay_ms=campaign.delay_ms,
                    tls=False, bomb_mb=0) as server:
        seed = workdir / "seed.md"
        seed.write_text("".join(f"- [link {i}]({url_for(server, i, campaign.hosts)})\n"
                                for i in range(campaign.links)), encoding="utf-8")
        ingested = rotwatch(data, "ingest", str(seed), config=config)
        if ingested.returncode != 0:
            raise RuntimeError(f"ingest failed: {ingested.stderr[-2000:]}")
        refresh_pages(server, campaign.links, campaign.hosts, 0)
        start = time.monotonic()
        first = rotwatch(data, "check", "--all", "--allow-private", config=config,
                         timeout=RUN_TIMEOUT)
        full_run = time.monotonic() - start
        if first.returncode not in (0, 2):
            raise RuntimeError(f"first run exited {first.returncode}: {first.stderr[-2000:]}")
        say(f"  whole run: {full_run:.1f} s")
        auditor = Auditor(data)
        rounds: list[Round] = []
        horizon = full_run
        # Bounded: a round that ends before its kill moment is audited too, and shrinks the
        # window (the machine may be faster now than during the first run).
        while sum(r.killed for r in rounds) < campaign.kills and len(rounds) < 3 * campaign.kills:
            index = len(rounds) + 1
            # Stratified: the k-th kill falls at a random point of the k-th slice of the
            # run, so even a few kills cover start-up, crawl and shutdown.
            landed = sum(r.killed for r in rounds)
            moment = (landed + rng.random()) / campaign.kills * horizon
            refresh_pages(server, campaign.links, campaign.hosts, index)
            done = _kill_round(index, moment, data, config, auditor)
            rounds.append(done)
            if not done.killed:
                horizon = min(horizon, done.ran_s) * 0.9
            say(f"  round {index}: {'killed' if done.killed else 'ended'} at {done.moment} s "
                f"({done.processes_killed} processes, {done.phase}), checks "
                f"{done.checks_before} → {done.checks_after}, rows in .open files "
                f"{done.rows_in_open_files}"
                + (f", PROBLEMS {list(done.problems)}" if done.problems else ""))
        refresh_pages(server, campaign.links, campaign.hosts, len(rounds) + 1)
        start = time.monotonic()
        final = rotwatch(data, "check", "--all", "--allow-private", config=config,
                         timeout=RUN_TIMEOUT)
        final_s = time.monotonic() - start
        final_problems = _final_problems(data, config, auditor, final.returncode)
    report = Report(campaign.seed, campaign.links, round(full_run, 2), tuple(rounds),
                    final.returncode, round(final_s, 2), tuple(final_problems),
                    round(time.monotonic() - t0, 1),
                    len(list((data / "warcs").glob("*.partial"))))
    say(f"kill-anywhere: seed={report.seed}: {report.survived}/{report.tried} kills survived, "
        f"{report.partial_files} cut record tails set aside, "
        f"final run exit {report.final_exit} in {report.final_s} s, problems "
        f"{list(report.final_problems)}, {report.total_s} s in all")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--links", type=int, default=3000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None, help="default: a random one")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp dir")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    campaign = Campaign(args.links, args.kills, seed)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        report = run_campaign(campaign, args.workdir)
    else:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="kill-anywhere-") as tmp:
            report = run_campaign(campaign, Path(tmp))
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    return 1 if report.failures() or report.tried < campaign.kills else 0


if __name__ == "__main__":
    sys.exit(main())
