"""Decide a Verdict from one Observation, optionally compared with a probe of a missing sibling.

Pure: no I/O, no clock, no randomness. The probe URL's random token comes from the caller.
Rule order matters and is documented in docs/verdicts.md: transport errors, then bot
challenges (at any status, so blocked is never mistaken for broken), then the status class,
then the soft-404 checks on 2xx.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

from core.probes import canonical_url, identifying_parameter
from core.records import ErrorKind, Judgement, Observation, Verdict
from core.textsim import normalise_text, similarity_at_least
from core.urls import host_of as _host
from core.verdict_patterns import (
    CHALLENGE_TEXT,
    CHALLENGE_TITLE,
    JS_SHELL,
    SHORTENERS,
    is_not_found_phrase,
    is_root,
    title_candidates,
)

# Tuned on tests/fixtures/soft404 (sweep in docs/verdicts.md). With a shared title, catch-all
# pages (home page with rotated stories, templates echoing the slug, search-for-the-slug)
# scored 0.76-1.00 against their probe; live pages scored <= 0.08, except a section page
# sharing half its stories with the home page (0.56). 0.65 sits in that gap.
SAME_TITLE_SIMILARITY = 0.65
# Without a shared title we demand near-identity: titles that echo the slug differ.
NEAR_IDENTICAL_SIMILARITY = 0.9
# Body wording of challenge pages only counts on short pages: an article *about*
# captchas or Cloudflare is long, a challenge interstitial is a few lines.
CHALLENGE_MAX_TEXT = 1500
# A title match that needed two or more segments stripped is weak ("404 — The Story of
# ... | Site"); it only counts when the main text is as short as a not-found page's.
WEAK_TITLE_MAX_TEXT = 600

_ERRORS: dict[ErrorKind, tuple[Verdict, str]] = {
    ErrorKind.DNS: (Verdict.DNS_FAILURE, "host name did not resolve"),
    ErrorKind.REFUSED: (Verdict.CONNECTION_FAILED, "connection refused"),
    ErrorKind.RESET: (Verdict.CONNECTION_FAILED, "connection reset"),
    ErrorKind.OTHER: (Verdict.CONNECTION_FAILED, "connection failed"),
    ErrorKind.TIMEOUT: (Verdict.TIMEOUT, "no response in time"),
    ErrorKind.TLS: (Verdict.TLS_ERROR, "TLS handshake or certificate failed"),
    ErrorKind.PRIVATE_ADDRESS: (Verdict.NOT_CHECKABLE, "host resolves to a private address"),
    ErrorKind.UNSUPPORTED: (Verdict.NOT_CHECKABLE, "URL cannot be fetched over HTTP(S)"),
    ErrorKind.INVALID_RESPONSE: (Verdict.CONNECTION_FAILED,
                                 "the server's answer is not valid HTTP"),
    ErrorKind.ROBOTS: (Verdict.ROBOTS_DISALLOWED, "robots.txt disallows fetching"),
    ErrorKind.REDIRECT_LOOP: (Verdict.REDIRECT_LOOP, "redirects loop"),
    ErrorKind.TOO_MANY_REDIRECTS: (Verdict.REDIRECT_LOOP, "too many redirects"),
}
# 999 is LinkedIn's "go away, bot"; 451 is legal blocking — neither says the page is gone.
_BLOCKED_STATUSES = frozenset({401, 403, 429, 451, 999})
_PERMANENT = frozenset({301, 308})
# The rules read a page's normalised text up to four times (challenge wording, not-found
# wording, the probe comparison on both sides) and a host's probe text once per target:
# normalised once each. Bounded: an observation's text is a sample of at most 20,000
# characters (crawler.fetch.content), so the cache holds a few hundred KB at most.
_normalised = lru_cache(maxsize=32)(normalise_text)


# --- wording ------------------------------------------------------------------------------
def _not_found_evidence(title: str | None, heading: str | None, text: str) -> str | None:
    if heading and is_not_found_phrase(heading):
        return f"heading says not found: {heading.strip()!r}"
    if not title:
        return None
    strong, weak = title_candidates(title)
    if any(is_not_found_phrase(c) for c in strong):
        return f"title says not found: {title.strip()!r}"
    # The weak candidates first: most titles have none, and then the text is not read.
    if any(is_not_found_phrase(c) for c in weak) and \
            len(_normalised(text)) <= WEAK_TITLE_MAX_TEXT:
        return f"title says not found and the page is short: {title.strip()!r}"
    return None


def looks_like_not_found(title: str | None, heading: str | None) -> bool:
    """True when the title (or a part of it beside the site name) or heading says not found.

    Pattern-based on purpose: body text is never consulted, so an article *about* 404
    errors ("How to fix a 404 error") is not taken for a missing page.
    """
    return _not_found_evidence(title, heading, "") is not None


def _challenge_evidence(observation: Observation) -> str | None:
    if (observation.header("cf-mitigated") or "").strip().lower() == "challenge":
        return "cf-mitigated: challenge header"
    if (observation.header("x-amzn-waf-action") or "").strip().lower() in ("captcha", "challenge"):
        return "AWS WAF challenge header"
    for label, value in (("title", observation.title), ("heading", observation.heading)):
        if value:
            strong, _ = title_candidates(value)
            if any(CHALLENGE_TITLE.fullmatch(normalise_text(c)) for c in strong):
                return f"{label} of a bot challenge: {value.strip()!r}"
    body = _normalised(observation.text)
    if len(body) <= CHALLENGE_MAX_TEXT and (match := CHALLENGE_TEXT.search(body)):
        return f"short page with challenge wording: {match.group(0)!r}"
    return None


def looks_like_bot_challenge(observation: Observation) -> bool:
    """True for bot-challenge / WAF interstitials (Cloudflare, Akamai, captchas), any status."""
    return _challenge_evidence(observation) is not None


# --- probing ------------------------------------------------------------------------
def _is_site_root(url: str) -> bool:
    """A root that is not an item page: `/?p=123` is WordPress's post 123, not the home."""
    return is_root(url) and identifying_parameter(url) is None


def needs_probe(observation: Observation) -> bool:
    """Only a 2xx answer at a non-root path can be a soft-404 that only a probe reveals.

    Also False when the cheap rules already decided (challenge, wording, deep link to root),
    so the spider spends no request where the probe could not change the verdict."""
    return first_look(observation).needs_probe


# --- judging ------------------------------------------------------------------------------
def _revisit(observation: Observation) -> str | None:
    if len(observation.hops) < 2:
        return None  # one hop cannot come back to itself (and canonical URLs cost)
    seen: set[str] = set()
    for hop in observation.hops:
        key = canonical_url(hop.url)
        if key in seen:
            return hop.url
        seen.add(key)
    return None


def _origin(observation: Observation) -> str:
    """First URL of the chain that is not on a link shortener."""
    for hop in observation.hops:
        if _host(hop.url) not in SHORTENERS:
            return hop.url
    return observation.final_url


def _cheap_soft_404(observation: Observation) -> str | None:
    """Soft-404 rules (a) wording and (b) deep link redirected to a root."""
    wording = _not_found_evidence(observation.title, observation.heading, observation.text)
    if wording:
        return wording
    if len(observation.hops) < 2:
        return None  # rule (b) needs a redirect (and the origin's host costs a parse)
    origin, final = _origin(observation), observation.final_url
    if not is_root(origin) and is_root(final):
        where = "the site root" if _host(origin) == _host(final) else "another host's root"
        return f"deep link {origin} was redirected to {where} {final}"
    return None


def _probe_soft_404(observation: Observation, probe: Observation,
                    unnamed: Observation | None) -> str | None:
    """Rule (c): the target looks like what the site answers for a surely-missing sibling.

    For a page named by a query parameter the sibling has a made-up value for it. A site
    that ignores the parameter (a tracking `?id=` on an article) answers the made-up value
    with the same live page, so the evidence only counts when the URL *without* the
    parameter (`unnamed`) was fetched and looks different from the target.
    """
    evidence = _same_page(observation, probe)
    if evidence is None or identifying_parameter(observation.url) is None:
        return evidence
    if unnamed is None or unnamed.error is not None or _same_page(observation, unnamed):
        return None  # the parameter may not name the page at all: no evidence
    return evidence


def _same_page(observation: Observation, probe: Observation) -> str | None:
    """Why the target looks like `probe`, a page the site served for another URL."""
    status = probe.status
    if probe.error or status is None or not 200 <= status < 300:
        return None  # an honest 404 (or anything else) says nothing about the target
    if _host(probe.url) != _host(observation.url) or _is_site_root(observation.url):
        return None
    target_end, probe_end = canonical_url(observation.final_url), canonical_url(probe.final_url)
    if target_end == probe_end:
        if len(observation.hops) <= 1:
            return None  # the catch-all *is* this page, and it was reached as asked
        return f"redirected to {observation.final_url}, where a missing sibling also lands"
    main_type = [(o.content_type or "").split("/")[0].strip().lower() for o in (observation, probe)]
    if all(main_type) and main_type[0] != main_type[1]:
        return None
    ours, theirs = _normalised(observation.text), _normalised(probe.text)
    if not ours or not theirs or JS_SHELL.search(ours) or JS_SHELL.search(theirs):
        return None  # nothing rendered server-side: no evidence either way
    same_title = bool(observation.title) and (
        normalise_text(observation.title or "") == normalise_text(probe.title or "")
    )
    # Below both thresholds nothing follows: decided early, without every n-gram.
    floor = min(SAME_TITLE_SIMILARITY, NEAR_IDENTICAL_SIMILARITY) if same_title else \
        NEAR_IDENTICAL_SIMILARITY
    score = similarity_at_least(ours, theirs, floor, normalised=True)
    if score is None:
        return None
    if same_title and score >= SAME_TITLE_SIMILARITY:
        return f"same title and text as a missing sibling (similarity {score:.2f})"
    if score >= NEAR_IDENTICAL_SIMILARITY:
        return f"text nearly identical to a missing sibling's (similarity {score:.2f})"
    return None


def _judge_error(kind: ErrorKind, message: str | None) -> Judgement:
    verdict, reason = _ERRORS[kind]
    detail = (message or "").strip()
    return Judgement(verdict, f"{reason}: {detail}" if detail else reason)


def _judge_redirect_stop(observation: Observation, status: int) -> Judgement:
    final = observation.hops[-1]
    if status == 304:
        # A conditional 304 never gets here (see judge): this one answered a request that
        # carried no validators, so it cannot say "unchanged since" anything.
        return Judgement(Verdict.NOT_CHECKABLE, "304 Not Modified to a request without "
                         "validators: the answer says nothing about the page")
    location = (final.location or "").strip()
    target = urljoin(final.url, location) if location else ""
    if not target or urlsplit(target).scheme.lower() not in ("http", "https"):
        why = f"to unfollowable {location!r}" if location else "without a Location header"
        return Judgement(Verdict.BROKEN, f"{status} redirect {why}")
    return Judgement(Verdict.NOT_CHECKABLE, f"{status} redirect to {target} was not followed")


@dataclass(frozen=True)
class FirstLook:
    """An observation judged by every rule that needs no probe, each rule run once.

    `decided` is the verdict when no probe can change it; otherwise the page answered (2xx,
    or 304 to our validators) and no cheap soft-404 rule fired, and `judgement` finishes
    with the probe's evidence, if any. The spider asks `needs_probe`, fetches the probe,
    then asks `judgement`: the challenge and wording rules are not run twice.
    """

    observation: Observation
    decided: Judgement | None

    @property
    def needs_probe(self) -> bool:
        status = self.observation.status
        return (self.decided is None and status is not None and 200 <= status < 300
                and not _is_site_root(self.observation.url))

    def judgement(self, probe: Observation | None = None,
                  unnamed: Observation | None = None) -> Judgement:
        if self.decided is not None:
            return self.decided
        observation = self.observation
        status = observation.status
        soft = _probe_soft_404(observation, probe, unnamed) if probe is not None else None
        if soft:
            return Judgement(Verdict.SOFT_404, f"{status}, but {soft}")
        if len(observation.hops) > 1:
            steps = observation.hops[:-1]
            permanent = all(hop.status in _PERMANENT for hop in steps)
            kind = "permanently" if permanent else "temporarily"
            return Judgement(
                Verdict.REDIRECTED,
                f"{kind} redirected to {observation.final_url} ({len(steps)} hop(s))",
                permanent_redirect=permanent,
            )
        if status == 304:
            return Judgement(Verdict.OK, "304: not modified since the last good capture")
        return Judgement(Verdict.OK, f"{status}: the page answered")


def first_look(observation: Observation) -> FirstLook:
    """The rules in their documented order, up to the probe (see FirstLook)."""
    return FirstLook(observation, _without_probe(observation))


def _without_probe(observation: Observation) -> Judgement | None:
    if observation.error is not None:
        return _judge_error(observation.error, observation.error_message)
    status = observation.status
    if status is None:
        return Judgement(Verdict.NOT_CHECKABLE, "no response and no error recorded")
    # 304 to our conditional request: the page is there, byte for byte the capture that
    # was judged healthy before; judged on its hops like that 200, with no text to read.
    unchanged = status == 304 and observation.conditional
    answered = 200 <= status < 300 or unchanged
    revisited = _revisit(observation)
    # A revisit that still ends in 2xx is a cookie bounce (/a -> /set-cookie -> /a): it works.
    if revisited and not answered:
        return Judgement(Verdict.REDIRECT_LOOP, f"redirects come back to {revisited}")
    challenge = _challenge_evidence(observation)
    if challenge:
        return Judgement(Verdict.BLOCKED, f"bot challenge at {status}: {challenge}")
    if status in _BLOCKED_STATUSES:
        return Judgement(Verdict.BLOCKED, f"{status}: the server refuses automated checks")
    if 300 <= status < 400 and not unchanged:
        return _judge_redirect_stop(observation, status)
    if 400 <= status < 500:
        return Judgement(Verdict.BROKEN, f"{status} client error")
    if 500 <= status < 600:
        return Judgement(Verdict.SERVER_ERROR, f"{status} server error")
    if not answered:
        return Judgement(Verdict.NOT_CHECKABLE, f"unexpected status {status}")
    soft = _cheap_soft_404(observation)
    if soft:
        return Judgement(Verdict.SOFT_404, f"{status}, but {soft}")
    return None  # answered, and only the probe can still call it a soft-404


def judge(observation: Observation, probe: Observation | None = None,
          unnamed: Observation | None = None) -> Judgement:
    """The verdict on one target, with a human-readable reason naming the evidence used.

    `probe` is the observation of `probe_url(observation.url, token)`; pass it whenever
    `needs_probe(observation)` was true and the probe was fetched. For a URL with an
    identifying query parameter, `unnamed` is the observation of `without_parameter(url)`.
    """
    return first_look(observation).judgement(probe, unnamed)
