"""Typed configuration, loaded once from TOML (+ environment), validated up front.

The environment is read in one place, `load_config` (a parameter, `os.environ` unless
given), never by a default: building a `Config` reads no process state.

Every section maps to a frozen dataclass; an unknown key, a wrong type, a number that is
not finite, not whole where a count is meant or outside its range, a string with control
characters, or a cron expression that does not parse is a ConfigError naming the file,
the section, the key and the problem, before anything runs. Ranges: docs/config.md.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, get_type_hints
from urllib.parse import urlsplit

from core.operator_rules import AcceptRule
from core.policy_config import DEFAULT_CONFIG, PolicyConfig
from core.url_filter import check_patterns
from rotwatch.timezone import UnknownZone, resolve_zone

ENV_DATA_DIR = "ROTWATCH_DATA_DIR"
REPORT_FORMATS = ("text", "markdown", "html", "csv", "json", "junit")
_MAX_TEXT = 4096  # characters in one string setting
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # a single class: linear


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Bounds:
    """The range a numeric setting must lie in: [low, high], or (low, high] if `above`."""

    low: float
    high: float
    above: bool = False  # the value must be greater than low, not equal to it

    def __contains__(self, value: float) -> bool:
        return (value > self.low if self.above else value >= self.low) and value <= self.high

    def __str__(self) -> str:
        return f"{'(' if self.above else '['}{self.low:g}, {self.high:g}]"


_NOT_NEGATIVE = Bounds(0, math.inf)  # for a number without a range of its own


def _within(default: float, low: float, high: float, *, above: bool = False) -> Any:
    """A dataclass field with its allowed range, checked by load_config."""
    return field(default=default, metadata={"bounds": Bounds(low, high, above)})


def default_data_dir(env: Mapping[str, str]) -> Path:
    """$ROTWATCH_DATA_DIR, else $XDG_DATA_HOME/rotwatch, else ~/.local/share/rotwatch."""
    if env.get(ENV_DATA_DIR):
        return Path(env[ENV_DATA_DIR])
    xdg = env.get("XDG_DATA_HOME")
    return Path(xdg) / "rotwatch" if xdg else Path.home() / ".local" / "share" / "rotwatch"


@dataclass(frozen=True)
class IngestConfig:
    seeds: tuple[str, ...] = ("seeds",)
    max_seed_mb: float = _within(32.0, 0, 1024, above=True)
    batch_size: int = _within(200, 1, 100_000)


@dataclass(frozen=True)
class CrawlConfig:
    user_agent: str = "rotwatch/0.1 (+https://github.com/rotwatch/rotwatch; link-rot checker)"
    concurrency_per_host: int = _within(2, 1, 100)
    concurrency_total: int = _within(64, 1, 1000)
    delay_per_host: float = _within(0.5, 0, 3600)
    timeout: float = _within(30.0, 0, 3600, above=True)
    # Seconds one target may take over all its hops, retries, waits and its soft-404 probe.
    target_budget: float = _within(60.0, 0, 21_600, above=True)
    max_redirects: int = _within(10, 0, 30)
    max_mb: float = _within(10.0, 0, 1024, above=True)
    retry_times: int = _within(2, 0, 10)
    # Seconds before the first retry, doubling each time.
    retry_backoff: float = _within(1.0, 0, 3600)
    retry_after_cap: float = _within(120.0, 0, 3600)
    obey_robots: bool = True
    allow_private_addresses: bool = False
    ca_bundle: str | None = None
    snapshots: bool = True
    warc_max_file_mb: float = _within(1000.0, 0, 100_000, above=True)
    soft404_probe: bool = True
    max_per_host_per_run: int = _within(0, 0, 10_000_000)  # 0 = no cap
    batch_size: int = _within(100, 1, 100_000)
    # Crawl processes, hosts split between them; 0 = one per core.
    processes: int = _within(0, 0, 256)
    # URL regexes (core/url_filter.py rules): only matching targets are checked / counted;
    # --include/--exclude add to these.
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    # Final statuses counted alive, "CODES" or "HOST=CODES" (core/operator_rules.py).
    accept: tuple[str, ...] = ()


@dataclass(frozen=True)
class DaemonConfig:
    ingest_cron: str = "*/30 * * * *"
    check_cron: str = "*/10 * * * *"
    report_cron: str = "15 6 * * *"
    maintenance_cron: str = "30 3 * * 0"
    check_timeout_minutes: float = _within(120.0, 0, 10_080)  # 0 = no limit; at most a week
    misfire_grace_hours: float = _within(6.0, 0, 168)
    crash_retries: int = _within(3, 0, 10)
    vacuum: bool = False
    shutdown_grace_seconds: float = _within(30.0, 0, 3600)
    # How often the daemon writes its heartbeat to the store; `status` calls it stalled
    # after three missed beats.
    heartbeat_seconds: float = _within(30.0, 0.5, 3600)


@dataclass(frozen=True)
class ReportConfig:
    directory: str = "reports"
    formats: tuple[str, ...] = ("html", "csv", "json")
    timezone: str = "local"  # times in reports: an IANA name, or the machine's own zone


@dataclass(frozen=True)
class ClusterConfig:
    """A check spread over a Scrapyd fleet (rotwatch/cluster/); empty `scrapyd`: local."""

    scrapyd: tuple[str, ...] = ()  # node base URLs, e.g. "http://node-a:6800"
    # A directory every node and the coordinator see (a shared filesystem), or an object
    # storage URL (s3://bucket/prefix, any fsspec protocol; the `object-storage` extra).
    shared_dir: str | None = None
    # Non-secret fsspec options of an object store (endpoint_url, region…), as (key, value)
    # pairs; credentials come from the environment or fsspec's own configuration.
    storage_options: tuple[tuple[str, str | int | float | bool], ...] = ()
    # One label per node (same order as `scrapyd`): the network it checks from.
    vantage: tuple[str, ...] = ()
    # Before a verdict that could lead to "dead" counts, a node of another vantage (or,
    # without a fleet, a second local source address) checks the link again.
    confirm: bool = True
    confirm_bind_address: str | None = None  # without a fleet: the second source address
    # Without a fleet: an http(s) forward proxy on another network confirms instead (or
    # as well); it resolves names itself, so DNS pinning cannot apply to that re-check.
    confirm_proxy: str | None = None
    max_attempts: int = _within(3, 1, 20)  # per shard, over the nodes
    poll_interval: float = _within(1.0, 0.05, 600, above=True)
    request_timeout: float = _within(10.0, 0, 600, above=True)
    job_timeout_minutes: float = _within(120.0, 0, 10_080)  # 0 = no limit

    @property
    def enabled(self) -> bool:
        return bool(self.scrapyd)


@dataclass(frozen=True)
class ReviewConfig:
    reviewer: str | None = None  # who sets triage marks; None = the OS user


@dataclass(frozen=True)
class SuggestConfig:
    """Web-archive look-ups (docs/review.md): every endpoint off unless set."""

    memento_timemap: str | None = None  # URL prefix; the cited URL is appended
    memento_timegate: str | None = None
    wayback_availability: str | None = None
    save_endpoint: str | None = None  # Save-Page-Now style prefix, for still-alive pages
    timeout: float = _within(10.0, 0, 120, above=True)
    max_response_kb: int = _within(1024, 1, 65_536)
    min_interval: float = _within(1.0, 0, 3600)  # seconds between requests to one endpoint
    retries: int = _within(2, 0, 10)
    cache_days: float = _within(7.0, 0, 3650, above=True)
    max_lookups: int = _within(200, 1, 100_000)  # per `rotwatch suggest`
    max_seconds: float = _within(300.0, 0, 86_400, above=True)
    save_min_interval: float = _within(60.0, 1, 86_400)
    max_saves: int = _within(10, 0, 1000)
    allow_private_addresses: bool = False


@dataclass(frozen=True)
class Config:
    data_dir: Path  # no default: where the data lives is decided by load_config
    ingest: IngestConfig = IngestConfig()
    crawl: CrawlConfig = CrawlConfig()
    daemon: DaemonConfig = DaemonConfig()
    report: ReportConfig = ReportConfig()
    cluster: ClusterConfig = ClusterConfig()
    review: ReviewConfig = ReviewConfig()
    suggest: SuggestConfig = SuggestConfig()
    policy: PolicyConfig = DEFAULT_CONFIG
    source: str | None = None

    @property
    def store_path(self) -> Path:
        return self.data_dir / "rotwatch.db"

    @property
    def warc_dir(self) -> Path:
        return self.data_dir / "warcs"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "archive.store.lock"


_SECTIONS: Final[Mapping[str, type]] = MappingProxyType({
    "ingest": IngestConfig, "crawl": CrawlConfig, "daemon": DaemonConfig,
    "report": ReportConfig, "cluster": ClusterConfig, "review": ReviewConfig,
    "suggest": SuggestConfig})


def load_config(path: Path | None, data_dir: Path | None = None,
                env: Mapping[str, str] | None = None) -> Config:
    """Read `path` (TOML) if given; `data_dir` (from --data-dir) beats the file and env.

    `env` is the environment to read ($ROTWATCH_DATA_DIR, $XDG_DATA_HOME); the process's
    own when not given.
    """
    env = os.environ if env is None else env
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
        elif key == "policy":
            values["policy"] = _policy(value, f"{where}: [policy]")
        elif key == "data_dir":
            text = _text(value, f"{where}: data_dir")
            values["data_dir"] = Path(text).expanduser()
        else:
            known = ", ".join(["data_dir", "policy", *_SECTIONS])
            raise ConfigError(f"{where}: unknown key {key!r} (known: {known})")
    if "report" in values:
        unknown = set(values["report"].formats) - set(REPORT_FORMATS)
        if unknown:
            raise ConfigError(f"{where}: [report] formats: unknown {sorted(unknown)} "
                              f"(known: {', '.join(REPORT_FORMATS)})")
        try:
            resolve_zone(values["report"].timezone)
        except UnknownZone as exc:
            raise ConfigError(f"{where}: [report] timezone: {exc}") from None
    if "cluster" in values:
        _check_cluster(values["cluster"], f"{where}: [cluster]")
    if isinstance(raw.get("daemon"), dict):
        _check_schedules(raw["daemon"], f"{where}: [daemon]")
    if "crawl" in values:
        _check_crawl_rules(values["crawl"], f"{where}: [crawl]")
    if data_dir is not None:
        values["data_dir"] = data_dir
    elif "data_dir" not in values or env.get(ENV_DATA_DIR):
        values["data_dir"] = default_data_dir(env)
    return Config(**values)


def _policy(table: object, where: str) -> PolicyConfig:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    try:
        return PolicyConfig.from_mapping(table)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where} {exc}") from exc


def _check_cluster(cluster: ClusterConfig, where: str) -> None:
    for url in cluster.scrapyd:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where} scrapyd: {url!r} is not an http(s) URL of a node")
    if len(set(cluster.scrapyd)) != len(cluster.scrapyd):
        raise ConfigError(f"{where} scrapyd: a node is listed twice")
    if cluster.scrapyd and not cluster.shared_dir:
        raise ConfigError(f"{where} shared_dir: required with scrapyd nodes (a directory "
                          "every node and this machine see)")
    if cluster.shared_dir is not None:
        _check_shared(cluster, where)
    if cluster.confirm_proxy is not None:
        proxy = urlsplit(cluster.confirm_proxy)
        try:
            port = proxy.port
        except ValueError:
            port = None
        if proxy.scheme not in ("http", "https") or not proxy.hostname or not port \
                or proxy.path not in ("", "/") or proxy.query or proxy.fragment:
            raise ConfigError(f"{where} confirm_proxy: {cluster.confirm_proxy!r} is not a "
                              "proxy URL like \"http://proxy.example:3128\"")
    if cluster.vantage and len(cluster.vantage) != len(cluster.scrapyd):
        raise ConfigError(f"{where} vantage: {len(cluster.vantage)} labels for "
                          f"{len(cluster.scrapyd)} nodes (one label per node)")


def _check_schedules(table: dict[str, Any], where: str) -> None:
    """Only the schedules the file sets (the defaults are known good); parsed by the same
    code as the daemon's, loaded here only then: APScheduler costs ~60 ms at start."""
    given = {key: value for key, value in table.items() if key.endswith("_cron")}
    if not given:
        return
    from scheduler.cron import check_cron

    now = datetime.now(UTC)
    for key, expression in given.items():
        try:
            check_cron(expression, now)
        except ValueError as exc:
            raise ConfigError(f"{where} {key} = {expression!r} is not a valid cron "
                              f"expression: {exc}") from None


def _check_crawl_rules(crawl: CrawlConfig, where: str) -> None:
    """URL patterns that compile within the linear-cost rules, accept rules that parse."""
    try:
        check_patterns(crawl.include + crawl.exclude)
        for rule in crawl.accept:
            AcceptRule.parse(rule)
    except ValueError as exc:
        raise ConfigError(f"{where} {exc}") from None


# Option names that carry credentials: they belong in the environment (or fsspec's own
# config), not in a config file that is copied around and whose options are passed to every
# node on its job's command line.
_SECRET_OPTION = re.compile(r"key|secret|token|password|credential|session", re.IGNORECASE)


def _check_shared(cluster: ClusterConfig, where: str) -> None:
    shared = cluster.shared_dir or ""
    if "://" not in shared:
        # A relative path would name a different directory on each machine.
        if not shared.startswith("/"):
            raise ConfigError(f"{where} shared_dir: {shared!r} is not an absolute directory "
                              "path nor an object storage URL (s3://bucket/prefix)")
        if cluster.storage_options:
            raise ConfigError(f"{where} storage_options: only for an object storage URL "
                              "shared_dir")
        return
    parts = urlsplit(shared)
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*", parts.scheme) or not parts.netloc:
        raise ConfigError(f"{where} shared_dir: {shared!r} is not an object storage URL "
                          "(expected e.g. s3://bucket/prefix)")
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{where} shared_dir: an object storage URL without credentials, "
                          "query or fragment (credentials come from the environment)")
    for key, _ in cluster.storage_options:
        if _SECRET_OPTION.search(key):
            raise ConfigError(f"{where} storage_options: {key!r} looks like a credential: "
                              "set it in the environment or fsspec's configuration")


def _build(cls: type, table: dict[str, Any], where: str) -> Any:
    hints = get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        kwargs[key] = _coerce(value, hints[key], f"{where} {key}")
        if hints[key] in (int, float):
            bounds = known[key].metadata.get("bounds", _NOT_NEGATIVE)
            if kwargs[key] not in bounds:
                raise ConfigError(f"{where} {key}: must be in {bounds}, got {value!r}")
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    text = str(hint)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int or hint is float:
        return _number(value, hint, where)
    if text.startswith("tuple[tuple[str"):
        return _options(value, where)
    if text.startswith("tuple"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
        return tuple(_text(v, where) for v in value)
    return _text(value, where)


def _options(value: Any, where: str) -> tuple[tuple[str, str | int | float | bool], ...]:
    """A table of plain values (strings, numbers, booleans), as sorted (key, value) pairs."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table, got {value!r}")
    pairs: list[tuple[str, str | int | float | bool]] = []
    for key, item in sorted(value.items()):
        if isinstance(item, str):
            item = _text(item, f"{where} {key}")
        elif not isinstance(item, bool | int | float):
            raise ConfigError(f"{where} {key}: expected a string, number or boolean, "
                              f"got {item!r}")
        pairs.append((key, item))
    return tuple(pairs)


def _number(value: Any, hint: type, where: str) -> int | float:
    """A finite number; for a count (int), a whole one: 2.9 is refused, not cut to 2."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{where}: must be a finite number, got {value!r}")
    if hint is int:
        if isinstance(value, float) and not value.is_integer():
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        if isinstance(value, float) and abs(value) > 2**53:
            raise ConfigError(f"{where}: expected a whole number, got {value!r} (too large "
                              "to be exact)")
        return int(value)
    return float(value)


def text_setting(value: Any, where: str) -> str:
    """A string setting given elsewhere (a command-line override), checked as in a file."""
    return _text(value, where)


def _text(value: Any, where: str) -> str:
    """A non-empty string without control characters (a CR/LF in the user agent would
    split a request header; a NUL in a path fails deep inside the OS calls)."""
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if not value:
        raise ConfigError(f"{where}: must not be empty")
    if _CONTROL.search(value):
        raise ConfigError(f"{where}: contains a control character: {value!r}")
    if len(value) > _MAX_TEXT:
        raise ConfigError(f"{where}: longer than {_MAX_TEXT} characters")
    return value
