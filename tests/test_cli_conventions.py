"""The command line users expect from link checkers (issue 12), end to end.

Exit codes with one meaning each (64 usage, 2 links need attention by `--fail-on` over the
selected links, due or not), refusals by the operator's settings not stored, messages that
name the data directory and say what to do, `links` in 80 columns, and the lychee-style
options. Real `rotwatch` processes over a real store and the loopback mock server.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.cells import cell_len

from core.exitcodes import (
    DEFAULT_FAIL_ON,
    ExitCode,
    FailOn,
    exit_code,
    needs_attention,
    parse_fail_on,
)
from rotwatch.cli import cli
from rotwatch.cli_common import command_line
from rotwatch.config import Config
from tests.conftest import REPO_ROOT, MockServer
from tests.helpers import query, rotwatch, write_config

# ---- usage errors: 64, whatever the command ------------------------------------------------

USAGE_ERRORS = [
    [],  # a bare `rotwatch`
    ["--no-such-option", "status"],
    ["nosuchcommand"],
    ["ingest", "--format", "pdf"],
    ["links", "--state", "sideways"],
    ["check", "--fail-on", "deadish"],
    ["check", "--include", "(a+)+$"],
    ["check", "--accept", "700"],
    ["check", "--timeout", "0"],
    ["check", "--max-concurrency", "0"],
    ["check", "--user-agent", "bad\nagent"],
    ["check", "ftp://example.com/file"],
    ["check", "--all", "https://example.com/"],
    ["run", "--exclude", "("],
    ["report", "--fail-on", "moved"],
    ["export", "--output", "x.warc.gz", "--since", "yesterday"],
    ["verify", "--bogus"],
    ["daemon", "--log-format", "xml"],
    ["status", "--bogus"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=lambda a: " ".join(a) or "bare")
def test_usage_errors_exit_64_with_one_clear_line(args: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "d"), *args])
    assert result.exit_code == ExitCode.USAGE == 64, result.output
    assert "Traceback" not in result.output
    if args:
        assert "Error:" in result.output
    assert not (tmp_path / "d" / "rotwatch.db").exists()  # nothing ran


def test_a_bare_rotwatch_process_exits_64() -> None:
    done = subprocess.run([sys.executable, "-m", "rotwatch"], capture_output=True, text=True,
                          timeout=60, cwd=REPO_ROOT, stdin=subprocess.DEVNULL)
    assert done.returncode == 64 and "Usage:" in done.stdout + done.stderr


def test_fail_on_states_and_the_order_of_outcomes() -> None:
    assert parse_fail_on([]) == DEFAULT_FAIL_ON == {FailOn.DEAD, FailOn.FAILING}
    assert parse_fail_on(["dead", "Changed, failing"]) == set(FailOn)
    assert needs_attention({"dead": 1, "failing": 2, "alive": 5}, frozenset({FailOn.DEAD})) == 1
    assert exit_code(usage=True, busy=True, error=True, attention=True) == 64
    assert exit_code(busy=True, error=True, attention=True) == 3
    assert exit_code(error=True, attention=True) == 1
    assert exit_code(attention=True) == 2 and exit_code() == 0
    assert ExitCode.DEAD_LINKS is ExitCode.ATTENTION


def test_next_step_names_the_data_dir_only_when_needed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = Config(data_dir=data)
    assert command_line(config, "report", env={}) == f"rotwatch --data-dir {data} report"
    assert command_line(config, "report", env={"ROTWATCH_DATA_DIR": str(data)}) == (
        "rotwatch report")
    spaced = Config(data_dir=tmp_path / "my data", source=str(tmp_path / "c.toml"))
    assert command_line(spaced, "report", env={}) == (
        f"rotwatch --config {tmp_path / 'c.toml'} --data-dir '{tmp_path / 'my data'}' report")


# ---- one store, one loopback server, the commands in turn ----------------------------------


@pytest.fixture(scope="module")
def site(mockserver: MockServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("conventions")
    urls = {"ok": mockserver.url("/page/conventions-ok"),
            "broken": mockserver.url("/status/404", host=2)}
    seed = base / "article.md"
    seed.write_text(f"Cites [a live page]({urls['ok']}) and [a gone one]({urls['broken']}).\n",
                    encoding="utf-8")
    config = write_config(base / "c.toml", soft404_probe=False, processes=1)
    data = base / "data"
    first = rotwatch(data, "run", "--allow-private", str(seed), config=config)
    return {"urls": urls, "seed": seed, "config": config, "data": data, "first": first,
            "base": base}


def _run(site: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    done = rotwatch(site["data"], *args, config=site["config"])
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _checks(site: dict[str, Any]) -> int:
    return int(query(site["data"], "SELECT count(*) FROM checks")[0][0])


def test_run_exits_2_while_a_link_fails_even_with_nothing_due(site: dict[str, Any]) -> None:
    first = site["first"]
    assert first.returncode == 2, first.stderr
    assert "checked 2 link(s)" in first.stdout
    # the next step names the store it is about
    assert f"see `rotwatch --config {site['config']} --data-dir {site['data']} report`" in (
        first.stdout)
    again = _run(site, "run", "--allow-private", str(site["seed"]))
    assert again.returncode == 2 and "checked 0 link(s)" in again.stdout
    assert "1 link(s) need attention" in again.stdout
    # one 404 is "failing", not "dead": --fail-on dead passes
    every = _run(site, "run", "--all", "--seed", "article", "--fail-on", "dead",
                 "--allow-private", str(site["seed"]))
    assert every.returncode == 0 and "checked 2 link(s)" in every.stdout  # due or not
    other = _run(site, "run", "--all", "--seed", "no-such-seed", str(site["seed"]))
    assert other.returncode == 0 and "checked 0 link(s)" in other.stdout  # none selected
    assert _run(site, "run", "--fail-on", "dead,changed", str(site["seed"])).returncode == 0


def test_check_and_report_share_the_definition(site: dict[str, Any]) -> None:
    ok = site["urls"]["ok"]
    assert _run(site, "check", "--url", ok, "--allow-private").returncode == 0
    assert _run(site, "check", "--allow-private").returncode == 2  # nothing due, one failing
    assert _run(site, "check", "--fail-on", "dead").returncode == 0
    assert _run(site, "report").returncode == 2
    assert _run(site, "report", "--fail-on", "dead").returncode == 0
    assert _run(site, "report", "--seed", "no-such-seed").returncode == 0


def test_check_of_a_url_not_in_the_store_says_so(site: dict[str, Any]) -> None:
    done = _run(site, "check", "--url", "https://elsewhere.example/x")
    assert done.returncode == 1
    assert "https://elsewhere.example/x is not in the store" in done.stderr
    assert f"--data-dir {site['data']} check https://elsewhere.example/x" in done.stderr


def test_include_exclude_and_accept(site: dict[str, Any], mockserver: MockServer) -> None:
    ok, broken = site["urls"]["ok"], site["urls"]["broken"]
    before = _checks(site)
    done = _run(site, "check", "--all", "--allow-private", "--exclude", r"/status/\d+$")
    assert done.returncode == 0, done.stdout  # the failing link is not selected
    assert "checked 1 link(s)" in done.stdout and _checks(site) == before + 1
    done = _run(site, "check", "--all", "--allow-private", "--include", "conventions-ok")
    assert done.returncode == 0 and "checked 1 link(s)" in done.stdout
    # 404 accepted for that host only (ad hoc, so the stored link stays failing)
    other = _run(site, "check", broken, "--allow-private", "--accept", "example.org=404")
    assert other.returncode == 2 and "broken" in other.stdout
    host = broken.split("/")[2].split(":")[0]
    done = _run(site, "check", broken, "--allow-private", "--accept", f"{host}=404")
    assert done.returncode == 0, done.stdout
    assert done.stdout.startswith("ok ") and "status 404 accepted (--accept)" in done.stdout
    assert ok in query(site["data"], "SELECT url FROM targets")[0]


def test_overrides_reach_the_crawl(site: dict[str, Any], mockserver: MockServer) -> None:
    mockserver.clear_log(1)
    done = _run(site, "check", "--url", site["urls"]["ok"], "--allow-private",
                "--user-agent", "rotwatch-test/12", "--timeout", "7", "--max-concurrency", "3",
                "-v", "--no-progress")
    assert done.returncode == 0, done.stderr
    agents = {e["user_agent"] for e in mockserver.log(1) if "conventions-ok" in e["path"]}
    assert agents == {"rotwatch-test/12"}
    assert site["urls"]["ok"] in done.stdout  # -v lists every link checked
    quiet = _run(site, "check", "--url", site["urls"]["ok"], "--allow-private", "-q")
    assert quiet.returncode == 0 and quiet.stdout == ""


def test_adhoc_urls_are_checked_not_stored_unless_recorded(site: dict[str, Any],
                                                           mockserver: MockServer) -> None:
    before = _checks(site)
    gone = mockserver.url("/status/410", host=2)
    done = _run(site, "check", gone, "--allow-private")
    assert done.returncode == 2 and "broken" in done.stdout and gone in done.stdout
    assert "not recorded" in done.stderr
    assert _checks(site) == before
    assert query(site["data"], "SELECT count(*) FROM targets WHERE url = ?", gone) == [(0,)]
    recorded = _run(site, "check", gone, "--allow-private", "--record")
    assert recorded.returncode == 2 and _checks(site) == before + 1
    assert query(site["data"], "SELECT path FROM seeds WHERE path LIKE '(command line)%'") == [
        (f"(command line) {gone}",)]
    # without --allow-private: refused, said so, exit 0 (nothing was checked)
    refused = _run(site, "check", site["urls"]["ok"])
    assert refused.returncode == 0 and "1 link(s) not checked" in refused.stdout


def test_every_link_failing_the_same_way_is_said_once(site: dict[str, Any]) -> None:
    done = _run(site, "check", "http://a.invalid/x", "http://b.invalid/y")
    assert done.returncode == 2
    assert done.stdout.count("all 2 links failed DNS: is this machine offline?") == 1


def test_links_fit_80_columns_and_filter_by_state(site: dict[str, Any]) -> None:
    runner = CliRunner(env={"COLUMNS": "80"})
    base = ["--data-dir", str(site["data"]), "--config", str(site["config"]), "links"]
    result = runner.invoke(cli, base)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines[0].split() == ["state", "role", "url"]
    assert all(cell_len(line) <= 80 for line in lines), lines
    failing = runner.invoke(cli, [*base, "--state", "failing", "--format", "csv"])
    assert failing.exit_code == 0
    # Other tests of this module may record more failing links (check URL --record):
    # the filter must keep the broken link and drop the healthy one.
    listed = {row.split(",")[2] for row in failing.stdout.splitlines()[1:]}
    assert site["urls"]["broken"] in listed and site["urls"]["ok"] not in listed
    wide = CliRunner(env={"COLUMNS": "200"}).invoke(cli, base)
    assert "anchor_text" in wide.stdout and "context" in wide.stdout


def test_long_urls_are_cut_with_an_ellipsis(tmp_path: Path) -> None:
    seed = tmp_path / "long.md"
    long_url = "https://example.com/" + "segment/" * 30
    seed.write_text(f"[x]({long_url})\n", encoding="utf-8")
    runner = CliRunner(env={"COLUMNS": "80"})
    data = ["--data-dir", str(tmp_path / "d")]
    assert runner.invoke(cli, [*data, "ingest", str(seed)]).exit_code == 0
    shown = runner.invoke(cli, [*data, "links"]).stdout.splitlines()
    assert any(line.rstrip().endswith("…") and "https://example.com/segment/" in line
               for line in shown), shown
    assert all(cell_len(line) <= 80 for line in shown)


def test_an_empty_store_says_it_may_be_the_wrong_one(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "elsewhere")]
    for command in (["report"], ["links"], ["check"]):
        result = runner.invoke(cli, [*data, *command])
        assert result.exit_code == 0, result.output
        assert f"in the store at {tmp_path / 'elsewhere' / 'rotwatch.db'}" in result.stderr
        assert "--data-dir data" in result.stderr
    seed = tmp_path / "s.md"
    seed.write_text("[a](https://a.example/x)\n", encoding="utf-8")
    done = runner.invoke(cli, [*data, "ingest", str(seed)])
    assert done.exit_code == 0
    assert f"next: `rotwatch --data-dir {tmp_path / 'elsewhere'} check`" in done.stderr
    assert runner.invoke(cli, [*data, "ingest", "-q", str(seed)]).stderr == ""


def test_costly_patterns_and_bad_accept_rules_in_the_config_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    runner = CliRunner()
    for line, why in (('include = ["(a+)+$"]', "nests a repeat"),
                      ('exclude = [".*a.*b"]', "could take too long"),
                      ('accept = ["example.com=700"]', "not a status code")):
        config.write_text(f"[crawl]\n{line}\n", encoding="utf-8")
        result = runner.invoke(cli, ["--config", str(config), "--data-dir", str(tmp_path),
                                     "links"])
        assert result.exit_code == 1, result.output
        assert "[crawl]" in result.stderr and why in result.stderr


def _on_a_terminal(data: Path, config: Path, *args: str) -> tuple[int, str]:
    """Run rotwatch with standard error on a pseudo-terminal; returns (code, what it drew)."""
    import os
    import pty

    leader, follower = pty.openpty()
    command = [sys.executable, "-m", "rotwatch", "--data-dir", str(data), "--config",
               str(config), *args]
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    with subprocess.Popen(command, cwd=REPO_ROOT, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=follower, env=env) as proc:
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
        code = proc.wait(timeout=120)
    os.close(leader)
    # the text drawn, without its colour and cursor escapes
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn.decode(errors="replace"))


def test_progress_is_drawn_on_a_terminal_only(site: dict[str, Any]) -> None:
    code, drawn = _on_a_terminal(site["data"], site["config"], "check", "--all",
                                 "--allow-private", "--fail-on", "dead")
    assert code == 0, drawn
    # the known total, reached; live counts
    total = re.search(r"\b(\d+)/\1\b", drawn)
    assert "checking" in drawn and total and int(total.group(1)) >= 2, drawn
    assert re.search(r"ok [1-9]\d* · broken [1-9]\d* · blocked 0", drawn), drawn
    code, drawn = _on_a_terminal(site["data"], site["config"], "check", "--all",
                                 "--allow-private", "--fail-on", "dead", "--no-progress")
    assert code == 0 and "checking" not in drawn
    code, drawn = _on_a_terminal(site["data"], site["config"], "ingest", str(site["seed"]))
    assert code == 0 and "ingesting" in drawn and "1/1" in drawn
    piped = _run(site, "check", "--all", "--allow-private", "--fail-on", "dead")
    assert "checking" not in piped.stderr and "\x1b" not in piped.stderr + piped.stdout
