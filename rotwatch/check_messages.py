"""What a check tells the operator when it ends: the summary, refusals, a failure every
link shared, and the next step (with the data directory it needs)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from core.records import Verdict
from rotwatch.check import CheckSummary
from rotwatch.cli_common import command_line
from rotwatch.config import Config

_EXCEPTION_NAME = re.compile(r"^[A-Za-z]{1,64}: ")  # anchored, bounded: linear

# When every link failed the same way the cause is rarely the links: say what it may be.
_SHARED: Mapping[Verdict, tuple[str, str]] = {
    Verdict.DNS_FAILURE: ("failed DNS", "is this machine offline?"),
    Verdict.CONNECTION_FAILED: ("could not connect", "is a firewall or proxy in the way?"),
    Verdict.TIMEOUT: ("timed out", "is the network down, or --timeout too short?"),
    Verdict.TLS_ERROR: ("failed TLS", "is a proxy intercepting TLS, or [crawl] ca_bundle "
                                      "wrong?"),
}


def shared_failure(verdicts: Mapping[str, int]) -> str | None:
    """"all 9 links failed DNS: is this machine offline?" when every check (two or more)
    ended in the same network failure; None otherwise."""
    if len(verdicts) != 1:
        return None
    (verdict, count), = verdicts.items()
    known = _SHARED.get(Verdict(verdict))
    if known is None or count < 2:
        return None
    return f"all {count} links {known[0]}: {known[1]}"


def refusal_line(summary: CheckSummary) -> str | None:
    if not summary.refused:
        return None
    # "PrivateAddressRefused: localhost resolves to …": the reader needs the sentence
    sample = _EXCEPTION_NAME.sub("", summary.refusal or "refused by your settings", count=1)
    others = " (and others like it)" if summary.refused > 1 else ""
    return (f"{summary.refused} link(s) not checked: {sample}{others}. Not recorded: their "
            "state and next check are unchanged")


def notes(summary: CheckSummary) -> list[str]:
    """What the operator should know beyond the verdicts: a shared failure, refusals."""
    return [line for line in (shared_failure(summary.verdicts), refusal_line(summary))
            if line]


def summary_lines(summary: CheckSummary, config: Config) -> list[str]:
    """The lines printed after a check (standard output), in order."""
    parts = ", ".join(f"{verdict}={n}" for verdict, n in sorted(summary.verdicts.items()))
    lines = [f"checked {summary.checked} link(s) in run {summary.run_id}: "
             f"{parts or 'none due'}", *notes(summary)]
    if summary.attention:
        lines.append(f"{summary.attention} link(s) need attention: see "
                     f"`{command_line(config, 'report')}`")
    return lines
