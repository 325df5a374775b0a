"""Running rotwatch as a real child process against a real store (one crawl per process)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def write_config(path: Path, ca_file: str | None = None, **crawl: Any) -> Path:
    settings: dict[str, Any] = {"delay_per_host": 0, "timeout": 4, "retry_times": 1,
                                "retry_backoff": 0.5,
                                "retry_after_cap": 3, "max_mb": 1, "concurrency_total": 32}
    settings.update(crawl)
    if ca_file:
        settings["ca_bundle"] = ca_file
    lines = ["[crawl]"]
    for key, value in settings.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, str):
            lines.append(f'{key} = "{value}"')
        else:
            lines.append(f"{key} = {value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def rotwatch(data_dir: Path, *args: str, config: Path | None = None,
             timeout: float = 180) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "rotwatch", "--data-dir", str(data_dir)]
    if config is not None:
        command += ["--config", str(config)]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO_ROOT, stdin=subprocess.DEVNULL)


def latest_checks(data_dir: Path) -> dict[str, dict[str, Any]]:
    """The latest check of every target, keyed by the target URL."""
    conn = sqlite3.connect(data_dir / "rotwatch.db")
    conn.row_factory = sqlite3.Row
    rows = conn.execute(
        "SELECT t.url AS target, t.state, t.last_verdict, c.* FROM checks c "
        "JOIN targets t ON t.id = c.target_id ORDER BY c.id").fetchall()
    conn.close()
    return {row["target"]: dict(row) for row in rows}


def query(data_dir: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(data_dir / "rotwatch.db")
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
