"""Every bad config value is refused when the config loads: exit 1 from the real CLI, a
message naming the file, the section and the key, never a traceback later."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from core.policy_config import PolicyConfig
from rotwatch.config import Config, ConfigError, load_config
from tests.helpers import REPO_ROOT

# (section, key, TOML value, a word the message must contain)
BAD: list[tuple[str, str, str, str]] = [
    ("crawl", "timeout", "inf", "finite"),
    ("crawl", "timeout", "nan", "finite"),
    ("crawl", "timeout", "0", "(0, 3600]"),
    ("crawl", "timeout", "1e9", "(0, 3600]"),
    ("crawl", "concurrency_per_host", "2.9", "whole number"),
    ("crawl", "concurrency_total", "0", "[1, 1000]"),
    ("crawl", "retry_times", "1e9", "[0, 10]"),
    ("crawl", "retry_times", "1e300", "too large"),
    ("crawl", "retry_times", "11", "[0, 10]"),
    ("crawl", "max_redirects", "31", "[0, 30]"),
    ("crawl", "max_mb", "0", "(0, 1024]"),
    ("crawl", "delay_per_host", "-1", "[0, 3600]"),
    ("crawl", "retry_after_cap", "-inf", "finite"),
    ("crawl", "processes", "100000", "[0, 256]"),
    ("crawl", "obey_robots", '"yes"', "true or false"),
    ("crawl", "user_agent", '"rotwatch\\r\\nX-Injected: 1"', "control"),
    ("crawl", "user_agent", '""', "empty"),
    ("ingest", "max_seed_mb", "nan", "finite"),
    ("ingest", "batch_size", "0", "[1, 100000]"),
    ("ingest", "seeds", '"seeds"', "list of strings"),
    ("daemon", "check_cron", '"not a cron"', "5 fields"),
    ("daemon", "report_cron", '"61 * * * *"', "cron"),
    ("daemon", "maintenance_cron", '"0 0 * * 9"', "0-7"),
    ("daemon", "ingest_cron", '"0 0 31 2 *"', "never fires"),
    ("daemon", "crash_retries", "2.5", "whole number"),
    ("daemon", "check_timeout_minutes", "inf", "finite"),
    ("report", "formats", '["pdf"]', "unknown"),
    ("report", "directory", '""', "empty"),
    ("policy", "dead_after_failures", "2.9", "integer"),
    ("policy", "alive_interval", "inf", "finite"),
    ("policy", "alive_interval", "3000000", "3650"),
    ("policy", "failing_growth", "nan", "finite"),
    ("policy", "jitter_fraction", "0.9", "0.5"),
]


def _status(config: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rotwatch", "--config", str(config),
                           "--data-dir", str(data_dir), "status"], capture_output=True,
                          text=True, timeout=120, cwd=REPO_ROOT, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("section", "key", "value", "word"), BAD,
                         ids=[f"{s}.{k}={v}" for s, k, v, _ in BAD])
def test_bad_value_is_refused_at_load(tmp_path: Path, section: str, key: str, value: str,
                                      word: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(f"[{section}]\n{key} = {value}\n", encoding="utf-8")
    done = _status(config, tmp_path / "data")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    message = done.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert str(config) in message and f"[{section}]" in message and key in message, message
    assert word in message, message
    assert not (tmp_path / "data").exists()  # refused before anything was touched


@pytest.mark.parametrize("toml", [
    "data_dir = 5\n", 'data_dir = "a\\u0000b"\n', 'data_dir = ""\n',
])
def test_bad_data_dir_is_refused(tmp_path: Path, toml: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(str(config)) + ".*data_dir"):
        load_config(config)


def test_in_range_values_load_with_their_types(tmp_path: Path) -> None:
    config = tmp_path / "ok.toml"
    config.write_text("[crawl]\nconcurrency_per_host = 3.0\ntimeout = 5\nretry_times = 10\n"
                      "max_redirects = 0\n[daemon]\ncheck_cron = \"*/5 * * * 1-5\"\n"
                      "[policy]\nalive_interval = \"36h\"\n", encoding="utf-8")
    loaded = load_config(config, tmp_path / "d")
    assert loaded.crawl.concurrency_per_host == 3 and type(loaded.crawl.concurrency_per_host) is int
    assert loaded.crawl.timeout == 5.0 and type(loaded.crawl.timeout) is float
    assert loaded.crawl.retry_times == 10 and loaded.crawl.max_redirects == 0
    assert loaded.daemon.check_cron == "*/5 * * * 1-5"
    assert isinstance(loaded.policy, PolicyConfig)
    assert loaded.policy.alive_interval == timedelta(hours=36)
    assert Config(data_dir=tmp_path).policy == PolicyConfig()


def test_the_environment_is_a_parameter_read_once(tmp_path: Path) -> None:
    env = {"ROTWATCH_DATA_DIR": str(tmp_path / "env"), "XDG_DATA_HOME": str(tmp_path / "x")}
    assert load_config(None, env=env).data_dir == tmp_path / "env"
    assert load_config(None, env={"XDG_DATA_HOME": str(tmp_path / "x")}).data_dir == (
        tmp_path / "x" / "rotwatch")
    assert load_config(None, tmp_path / "flag", env=env).data_dir == tmp_path / "flag"


def test_the_example_in_docs_config_md_loads(tmp_path: Path) -> None:
    doc = (REPO_ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    config = tmp_path / "example.toml"
    config.write_text(example, encoding="utf-8")
    assert load_config(config, tmp_path / "d").crawl.concurrency_total >= 1
