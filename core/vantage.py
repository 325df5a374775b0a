"""A second vantage point: which verdicts need one, and what two vantages' checks conclude.

A page that times out from one network may be geo-blocked, not gone. Before a verdict that
could lead to "dead" counts as a failure, the link is checked again from elsewhere (a node
with another `vantage` label, or a second local source address).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.records import Judgement, Verdict

NEEDS_CONFIRMATION = frozenset({
    Verdict.DNS_FAILURE, Verdict.TIMEOUT, Verdict.CONNECTION_FAILED, Verdict.TLS_ERROR,
    Verdict.BROKEN, Verdict.BLOCKED})


def needs_confirmation(verdict: Verdict) -> bool:
    return verdict in NEEDS_CONFIRMATION


@dataclass(frozen=True)
class Seen:
    """One vantage's check of a link: where from, and what it concluded."""

    vantage: str
    judgement: Judgement


@dataclass(frozen=True)
class Reconciled:
    """What the two checks conclude: the first check's judgement as it is to be recorded,
    and whether the second check is recorded too (it is when it disagrees)."""

    first: Judgement
    record_second: bool


def reconcile(first: Seen, second: Seen) -> Reconciled:
    """A link that works from elsewhere is regional (`blocked`), not failing; when both
    vantages fail, the first verdict stands, with the second one named in its reason
    (one failure counted, not two: the policy counts failures over days, not networks)."""
    if second.judgement.verdict.is_healthy:
        reason = (f"regional: {first.judgement.verdict.value} from {first.vantage} "
                  f"({first.judgement.reason}); {second.judgement.verdict.value} from "
                  f"{second.vantage}")
        return Reconciled(Judgement(Verdict.BLOCKED, reason), record_second=True)
    reason = (f"{first.judgement.reason} (also {second.judgement.verdict.value} from "
              f"{second.vantage})")
    return Reconciled(Judgement(first.judgement.verdict, reason,
                                first.judgement.permanent_redirect), record_second=False)
