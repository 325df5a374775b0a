"""The command line: help everywhere, the documented exit codes, JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from rotwatch.cli import COMMANDS, cli
from rotwatch.cli_daemon import has_command

ROOT = Path(__file__).resolve().parent.parent


def _commands(group: click.Group) -> list[tuple[str, click.Command]]:
    ctx = click.Context(group)
    commands = [(name, group.get_command(ctx, name)) for name in group.list_commands(ctx)]
    return [(name, command) for name, command in commands if command is not None]


def test_every_listed_command_loads_under_its_name() -> None:
    assert [name for name, command in _commands(cli) if command.name == name] == sorted(
        COMMANDS)


def test_the_daemon_sees_the_report_command_before_it_is_loaded() -> None:
    ctx = click.Context(cli)
    assert has_command(ctx, "report") and not has_command(ctx, "reports")


def test_a_command_imports_its_own_module_only() -> None:
    """The root group loads commands lazily: `status --help` imports cli_status, not the
    modules of export, the report or the UI (the cost every `rotwatch` run paid)."""
    code = ("import sys\nfrom rotwatch.cli import cli\n"
            "cli.main(['status', '--help'], prog_name='rotwatch', standalone_mode=False)\n"
            "print(' '.join(m for m in sys.modules if m.startswith('rotwatch.cli_')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "Usage: rotwatch status" in done.stdout
    loaded = set(done.stdout.split("\n")[-2].split())
    assert "rotwatch.cli_status" in loaded
    assert not loaded & {"rotwatch.cli_export", "rotwatch.cli_report", "rotwatch.cli_ui",
                         "rotwatch.cli_check", "rotwatch.cli_daemon"}, loaded


def test_every_command_and_option_has_help_and_an_example() -> None:
    assert cli.help
    for option in cli.params:
        assert isinstance(option, click.Option) is False or option.help, option.name
    for name, command in _commands(cli):
        assert command.help, f"{name} has no help"
        assert "Example:" in command.help, f"{name} has no example"
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} --{param.name} has no help"
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output


def test_ingest_then_links_json_over_a_real_process(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "rotwatch", "--data-dir", str(tmp_path / "data")]
    done = subprocess.run([*base, "ingest", str(ROOT / "seeds")], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "1 new" in done.stderr
    shown = subprocess.run([*base, "links", "--format", "json"], capture_output=True,
                           text=True, timeout=120, cwd=ROOT)
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)
    assert len(rows) == 9
    for key in ("seed", "seed_url", "url", "href", "role", "anchor_text", "context", "checkable"):
        assert key in rows[0]
    assert rows[0]["seed"] == str(ROOT / "seeds" / "nyt-cn-20240729-blinken-wang-yi.txt")
    primary = [r for r in rows if r["role"] == "primary-source"]
    assert [r["url"] for r in primary] == [
        "https://www.mfa.gov.cn/wjbzhd/202407/t20240727_11461711.shtml"]


def test_links_filters_and_csv(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "d")]
    assert runner.invoke(cli, [*data, "ingest", str(ROOT / "seeds")]).exit_code == 0
    result = runner.invoke(cli, [*data, "links", "--role", "citation", "--format", "csv"])
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("seed,role,url")
    assert len(lines) == 1 + 4


def test_exit_codes_for_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "d")]
    missing = runner.invoke(cli, [*data, "ingest", str(tmp_path / "nope")])
    assert missing.exit_code == 1
    assert "nope: no such file or directory" in missing.output
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text("[crawl]\nconcurency_per_host = 2\n")
    result = runner.invoke(cli, ["--config", str(bad_config), "status"])
    assert result.exit_code == 1
    assert "unknown key 'concurency_per_host'" in result.output
    bad_config.write_text("[policy]\ndead_after_failures = -1\n")
    result = runner.invoke(cli, ["--config", str(bad_config), "status"])
    assert result.exit_code == 1 and "[policy]" in result.output
    bad_config.write_text("[crawl\n")
    result = runner.invoke(cli, ["--config", str(bad_config), "status"])
    assert result.exit_code == 1 and "not valid TOML" in result.output


def test_data_dir_from_environment(tmp_path: Path) -> None:
    runner = CliRunner(env={"ROTWATCH_DATA_DIR": str(tmp_path / "envdata")})
    result = runner.invoke(cli, ["ingest", str(ROOT / "seeds")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "envdata" / "rotwatch.db").exists()
