"""Typed configuration, loaded once from TOML (+ environment), validated up front.

Every section maps to a frozen dataclass; an unknown key, a wrong type or an impossible
value is a ConfigError naming the file, the key and the problem.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

ENV_DATA_DIR = "ROTWATCH_DATA_DIR"
REPORT_FORMATS = ("text", "markdown", "html", "csv", "json", "junit")


class ConfigError(Exception):
    pass


def default_data_dir() -> Path:
    """$ROTWATCH_DATA_DIR, else $XDG_DATA_HOME/rotwatch, else ~/.local/share/rotwatch."""
    if os.environ.get(ENV_DATA_DIR):
        return Path(os.environ[ENV_DATA_DIR])
    xdg = os.environ.get("XDG_DATA_HOME")
    return Path(xdg) / "rotwatch" if xdg else Path.home() / ".local" / "share" / "rotwatch"


@dataclass(frozen=True)
class IngestConfig:
    seeds: tuple[str, ...] = ("seeds",)
    max_seed_mb: float = 32.0
    batch_size: int = 200


@dataclass(frozen=True)
class CrawlConfig:
    user_agent: str = "rotwatch/0.1 (+https://github.com/rotwatch/rotwatch; link-rot checker)"
    concurrency_per_host: int = 2
    concurrency_total: int = 64
    delay_per_host: float = 0.5
    timeout: float = 30.0
    # Seconds one target may take over all its hops, retries, waits and its soft-404 probe.
    target_budget: float = 60.0
    max_redirects: int = 10
    max_mb: float = 10.0
    retry_times: int = 2
    retry_backoff: float = 1.0  # seconds before the first retry, doubling each time
    retry_after_cap: float = 120.0
    obey_robots: bool = True
    allow_private_addresses: bool = False
    ca_bundle: str | None = None
    snapshots: bool = True
    warc_max_file_mb: float = 1000.0
    soft404_probe: bool = True
    max_per_host_per_run: int = 0  # 0 = no cap
    batch_size: int = 100
    processes: int = 0  # crawl processes, hosts split between them; 0 = one per core


@dataclass(frozen=True)
class DaemonConfig:
    ingest_cron: str = "*/30 * * * *"
    check_cron: str = "*/10 * * * *"
    report_cron: str = "15 6 * * *"
    maintenance_cron: str = "30 3 * * 0"
    check_timeout_minutes: float = 120.0
    misfire_grace_hours: float = 6.0
    crash_retries: int = 3
    vacuum: bool = False
    shutdown_grace_seconds: float = 30.0


@dataclass(frozen=True)
class ReportConfig:
    directory: str = "reports"
    formats: tuple[str, ...] = ("html", "csv", "json")


@dataclass(frozen=True)
class Config:
    data_dir: Path = field(default_factory=default_data_dir)
    ingest: IngestConfig = IngestConfig()
    crawl: CrawlConfig = CrawlConfig()
    daemon: DaemonConfig = DaemonConfig()
    report: ReportConfig = ReportConfig()
    policy: dict[str, Any] = field(default_factory=dict)
    source: str | None = None

    @property
    def store_path(self) -> Path:
        return self.data_dir / "rotwatch.db"

    @property
    def warc_dir(self) -> Path:
        return self.data_dir / "warcs"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "rotwatch.lock"


_SECTIONS: dict[str, type] = {"ingest": IngestConfig, "crawl": CrawlConfig,
                              "daemon": DaemonConfig, "report": ReportConfig}


def load_config(path: Path | None, data_dir: Path | None = None) -> Config:
    """Read `path` (TOML) if given; `data_dir` (from --data-dir) beats the file and env."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file {path} does not exist") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} cannot be read: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    where = str(path) if path else "defaults"
    values: dict[str, Any] = {"source": str(path) if path else None}
    for key, value in raw.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{key}] must be a table")
            values[key] = _build(_SECTIONS[key], value, f"{where}: [{key}]")
            if key == "report":
                unknown = set(values[key].formats) - set(REPORT_FORMATS)
                if unknown:
                    raise ConfigError(f"{where}: [report] formats: unknown {sorted(unknown)} "
                                      f"(known: {', '.join(REPORT_FORMATS)})")
        elif key == "policy":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [policy] must be a table")
            _validate_policy(value, where)
            values["policy"] = value
        elif key == "data_dir":
            values["data_dir"] = Path(str(value)).expanduser()
        else:
            known = ", ".join(["data_dir", "policy", *_SECTIONS])
            raise ConfigError(f"{where}: unknown key {key!r} (known: {known})")
    if data_dir is not None:
        values["data_dir"] = data_dir
    elif "data_dir" not in values or os.environ.get(ENV_DATA_DIR):
        values["data_dir"] = default_data_dir()
    return Config(**values)


def _validate_policy(table: dict[str, Any], where: str) -> None:
    from scheduler.policy import PolicyConfig

    try:
        PolicyConfig.from_mapping(table)
    except ValueError as exc:
        raise ConfigError(f"{where}: [policy] {exc}") from exc


def _build(cls: type, table: dict[str, Any], where: str) -> Any:
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        if key not in names:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(names))})")
        kwargs[key] = _coerce(value, hints[key], f"{where} {key}")
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    text = str(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int or hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if value < 0:
            raise ConfigError(f"{where}: must not be negative, got {value!r}")
        return hint(value)
    if text.startswith("tuple"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        return tuple(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value
