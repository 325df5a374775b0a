"""What the operator's own settings make of a check: refusals that are no check, and
statuses accepted as alive (`--accept`). Pure: observations and judgements in and out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.records import ErrorKind, Judgement, Observation, Verdict


def refused_by_settings(observation: Observation) -> bool:
    """The target's own address was refused as non-public, before any response.

    That refusal comes from the operator's settings (no `--allow-private`), not from the
    link: it is not a check of it, so it is neither stored nor lets the link's state or
    due time move. A redirect *from* a public host to a private one is different (the
    link did that): it has hops, and is recorded as not-checkable.
    """
    return observation.error is ErrorKind.PRIVATE_ADDRESS and not observation.hops


_CODE = r"[1-5][0-9][0-9]"
_RANGE = re.compile(rf"({_CODE})(?:(?:\.\.=?|-)({_CODE}))?")  # no nested repeat: linear
_HOST = re.compile(r"[a-z0-9.-]{1,253}")
_HOST_PART = re.compile(r"([^=]*[^.=])=(.*)")


@dataclass(frozen=True)
class AcceptRule:
    """Final statuses counted as alive, for every host or for one host and its subdomains."""

    ranges: tuple[tuple[int, int], ...]
    host: str | None = None

    @classmethod
    def parse(cls, text: str) -> AcceptRule:
        """`CODES` or `HOST=CODES`; CODES a comma list of codes and ranges (`200..299`,
        `200..=299`, `200-299`). Raises ValueError saying what is wrong."""
        host: str | None = None
        codes = text.strip()
        named = _HOST_PART.match(codes)  # the first "=" not part of a "..=" range
        if named is not None:
            host = named.group(1).strip().lower().lstrip("*").lstrip(".")
            codes = named.group(2)
            if not _HOST.fullmatch(host):
                raise ValueError(f"--accept {text!r}: {host!r} is not a host name")
        ranges: list[tuple[int, int]] = []
        for part in codes.split(","):
            found = _RANGE.fullmatch(part.strip())
            if found is None:
                raise ValueError(f"--accept {text!r}: {part.strip()!r} is not a status code "
                                 "(100-599) or range such as 200..299")
            low = int(found.group(1))
            high = int(found.group(2) or low)
            if high < low:
                raise ValueError(f"--accept {text!r}: range {part.strip()!r} is empty")
            ranges.append((low, high))
        return cls(tuple(ranges), host)

    def applies(self, host: str, status: int) -> bool:
        if self.host is not None and host != self.host and not host.endswith("." + self.host):
            return False
        return any(low <= status <= high for low, high in self.ranges)


def accepted(rules: tuple[AcceptRule, ...], host: str, observation: Observation,
             judgement: Judgement) -> Judgement:
    """The judgement, or "ok" when a rule accepts the final status of a failed check.

    Only a status answered by the server is accepted: a soft-404 served as 200, a
    timeout or a DNS failure stay what they are.
    """
    status = observation.status
    if (status is None or status < 300 or judgement.verdict.is_healthy
            or not any(rule.applies(host.lower(), status) for rule in rules)):
        return judgement
    return Judgement(Verdict.OK, f"status {status} accepted (--accept): "
                                 f"{judgement.verdict} before ({judgement.reason})")
