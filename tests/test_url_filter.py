"""`--include`/`--exclude` patterns and `--accept` rules: what is refused, and why.

Matching cost is measured in tests/test_regex_linear.py (the worst patterns accepted,
on adversarial URLs of growing length).
"""

from __future__ import annotations

import pytest

from core.operator_rules import AcceptRule, accepted, refused_by_settings
from core.records import ErrorKind, Hop, Judgement, Observation, Verdict
from core.url_filter import MAX_PATTERN, PatternError, UrlFilter, compile_pattern

REFUSED = {
    "(a+)+$": "nests a repeat",
    "(a*)*b": "nests a repeat",
    "(x|xy)*z": "repeats an alternation",
    "(a|a)+": "repeats an alternation",  # `re` keeps an alternation of equal branches
    ".*a.*b": "could take too long",
    ".{0,500}x.{0,500}y": "could take too long",
    r"(\w+)\1": "backreference",
    "(?=a)b": "lookahead",
    "(?<!a)b": "lookahead or lookbehind",
    "(a)?(?(1)b|c)": "conditional",
    "(": "not a valid regex",
    "": "empty",
    "a" * (MAX_PATTERN + 1): f"at most {MAX_PATTERN}",
}


@pytest.mark.parametrize(("pattern", "why"), REFUSED.items(), ids=list(REFUSED))
def test_costly_or_invalid_patterns_are_refused(pattern: str, why: str) -> None:
    with pytest.raises(PatternError, match=why.replace("(", r"\(")):
        compile_pattern(pattern)


ACCEPTED = [r"gov\.cn/", r".*\.pdf$", r"^https?://[^/]*\.example/.*x", r"[a-z]{2,5}\.gov/.*",
            r"(x|y)z", r"^https://(www\.)?nytimes\.com/", r"\?utm_", "a" * MAX_PATTERN]


@pytest.mark.parametrize("pattern", ACCEPTED)
def test_ordinary_patterns_are_accepted(pattern: str) -> None:
    compile_pattern(pattern)


def test_include_then_exclude() -> None:
    urls = UrlFilter.of(include=[r"\.gov/", r"\.gov\.cn/"], exclude=[r"/private/"])
    assert urls.keeps("https://www.state.gov/readout")
    assert urls.keeps("https://www.mfa.gov.cn/x")
    assert not urls.keeps("https://example.com/")
    assert not urls.keeps("https://www.state.gov/private/x")
    assert UrlFilter.of().keeps("anything") and not UrlFilter.of().active


def test_accept_rules_parse_and_apply_to_a_host_and_its_subdomains() -> None:
    rule = AcceptRule.parse("*.example.com=403,429,500..=503")
    assert rule.host == "example.com"
    assert rule.applies("example.com", 403) and rule.applies("www.example.com", 502)
    assert not rule.applies("notexample.com", 403) and not rule.applies("example.com", 404)
    assert AcceptRule.parse("200..299").applies("any.host", 250)
    for bad in ("700", "abc", "404-400", "bad host=403", "=403", ""):
        with pytest.raises(ValueError, match="--accept"):
            AcceptRule.parse(bad)


def _obs(status: int | None, error: ErrorKind | None = None) -> Observation:
    hops = (Hop("https://example.com/x", status),) if status else ()
    return Observation("https://example.com/x", hops=hops, error=error)


def test_accepted_turns_only_answered_failures_ok() -> None:
    rules = (AcceptRule.parse("example.com=403,404"),)
    blocked = Judgement(Verdict.BLOCKED, "403 Forbidden")
    assert accepted(rules, "example.com", _obs(403), blocked).verdict is Verdict.OK
    assert accepted(rules, "other.org", _obs(403), blocked) is blocked
    soft = Judgement(Verdict.SOFT_404, "looks like not found")
    assert accepted(rules, "example.com", _obs(200), soft) is soft  # 200 is no accepted code
    dns = Judgement(Verdict.DNS_FAILURE, "no such host")
    assert accepted(rules, "example.com", _obs(None, ErrorKind.DNS), dns) is dns


def test_only_the_targets_own_refused_address_is_not_a_check() -> None:
    assert refused_by_settings(_obs(None, ErrorKind.PRIVATE_ADDRESS))
    # redirected by the link itself to a private address: that is a finding, recorded
    redirected = Observation("https://example.com/x", hops=(
        Hop("https://example.com/x", 302, "http://127.0.0.1/"),),
        error=ErrorKind.PRIVATE_ADDRESS)
    assert not refused_by_settings(redirected)
    assert not refused_by_settings(_obs(None, ErrorKind.DNS))
