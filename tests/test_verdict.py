"""Tests for core.verdict: the labelled soft-404 fixture set, then every rule and edge."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from core.probes import identifying_parameter, probe_key, probe_url, without_parameter
from core.records import ErrorKind, Hop, Observation, Verdict
from core.verdict import (
    judge,
    looks_like_bot_challenge,
    looks_like_not_found,
    needs_probe,
)
from core.verdict_patterns import ROOT_PATH, TRACKING_KEYS, is_root

FIXTURES = Path(__file__).parent / "fixtures" / "soft404"
MANIFEST: list[dict[str, str]] = json.loads((FIXTURES / "manifest.json").read_text("utf-8"))


def _load(data: dict[str, Any] | None) -> Observation | None:
    if data is None:
        return None
    hops = tuple(Hop(h["url"], h["status"], h.get("location")) for h in data["hops"])
    return Observation(
        url=data["url"],
        hops=hops,
        error=ErrorKind(data["error"]) if data.get("error") else None,
        headers=tuple((k, v) for k, v in data.get("headers", [])),
        content_type=data.get("content_type"),
        title=data.get("title"),
        heading=data.get("heading"),
        text=data.get("text", ""),
    )


def _case(entry: dict[str, str]) -> tuple[Observation, Observation | None]:
    raw = json.loads((FIXTURES / entry["file"]).read_text("utf-8"))
    target = _load(raw["target"])
    assert target is not None
    return target, _load(raw["probe"])


def page(
    url: str = "https://example.com/news/2020/story",
    status: int = 200,
    *,
    redirects: tuple[tuple[str, int], ...] = (),
    title: str | None = "A story | Example",
    heading: str | None = "A story",
    text: str = "A perfectly ordinary article about the harbour and its ferries.",
    headers: tuple[tuple[str, str], ...] = (),
    location: str | None = None,
    content_type: str | None = "text/html",
) -> Observation:
    """An observation: `redirects` are (url, status) hops before the final one at `url`."""
    chain = [(u, s) for u, s in redirects] + [(url, status)]
    hops = tuple(
        Hop(u, s, chain[i + 1][0] if i + 1 < len(chain) else location)
        for i, (u, s) in enumerate(chain)
    )
    first = redirects[0][0] if redirects else url
    return Observation(
        url=first,
        hops=hops,
        title=title,
        heading=heading,
        text=text,
        headers=headers,
        content_type=content_type,
    )


# --- the labelled fixture set -------------------------------------------------------------
def test_fixture_set_is_large_and_varied() -> None:
    assert len(MANIFEST) >= 30
    categories = {entry["category"] for entry in MANIFEST}
    for wanted in (
        "honest error",
        "not-found wording (en)",
        "not-found wording (zh)",
        "home page for unknown paths",
        "SPA shared title",
        "article about 404",
        "short article",
        "bot challenge",
        "deep link to root",
    ):
        assert wanted in categories
    labels = [entry["truth"] == Verdict.SOFT_404 for entry in MANIFEST]
    assert 15 <= sum(labels) <= len(labels) - 15  # both classes well represented


def test_soft404_precision_and_recall() -> None:
    tp = fp = fn = 0
    for entry in MANIFEST:
        target, probe = _case(entry)
        predicted = judge(target, probe).verdict is Verdict.SOFT_404
        actual = entry["truth"] == Verdict.SOFT_404
        tp += predicted and actual
        fp += predicted and not actual
        fn += actual and not predicted
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= 0.95, (precision, tp, fp)
    assert recall >= 0.9, (recall, tp, fn)


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_fixture_case_verdict(entry: dict[str, str]) -> None:
    """Each case gets its expected verdict; known limits expect the documented wrong one."""
    target, probe = _case(entry)
    assert judge(target, probe).verdict == entry["expect"]


# --- transport errors ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "verdict"),
    [
        (ErrorKind.DNS, Verdict.DNS_FAILURE),
        (ErrorKind.REFUSED, Verdict.CONNECTION_FAILED),
        (ErrorKind.RESET, Verdict.CONNECTION_FAILED),
        (ErrorKind.OTHER, Verdict.CONNECTION_FAILED),
        (ErrorKind.TIMEOUT, Verdict.TIMEOUT),
        (ErrorKind.TLS, Verdict.TLS_ERROR),
        (ErrorKind.PRIVATE_ADDRESS, Verdict.NOT_CHECKABLE),
        (ErrorKind.UNSUPPORTED, Verdict.NOT_CHECKABLE),
        (ErrorKind.ROBOTS, Verdict.ROBOTS_DISALLOWED),
        (ErrorKind.REDIRECT_LOOP, Verdict.REDIRECT_LOOP),
        (ErrorKind.TOO_MANY_REDIRECTS, Verdict.REDIRECT_LOOP),
    ],
)
def test_errors_map_to_verdicts(kind: ErrorKind, verdict: Verdict) -> None:
    obs = Observation(url="https://example.com/a", error=kind, error_message="boom detail")
    judgement = judge(obs)
    assert judgement.verdict is verdict
    assert "boom detail" in judgement.reason


def test_every_error_kind_is_mapped() -> None:
    for kind in ErrorKind:
        assert judge(Observation(url="https://example.com/", error=kind)).reason


def test_no_response_and_no_error_is_not_checkable() -> None:
    assert judge(Observation(url="https://example.com/")).verdict is Verdict.NOT_CHECKABLE


# --- status classes -----------------------------------------------------------------------
@pytest.mark.parametrize("status", [401, 403, 429, 451, 999])
def test_blocking_statuses_are_blocked_not_broken(status: int) -> None:
    judgement = judge(page(status=status))
    assert judgement.verdict is Verdict.BLOCKED
    assert not judgement.verdict.is_failure


@pytest.mark.parametrize("status", [400, 404, 405, 410, 418, 422])
def test_client_errors_are_broken(status: int) -> None:
    assert judge(page(status=status)).verdict is Verdict.BROKEN


@pytest.mark.parametrize("status", [500, 502, 503, 504, 520])
def test_server_errors(status: int) -> None:
    assert judge(page(status=status)).verdict is Verdict.SERVER_ERROR


def test_honest_404_with_not_found_title_is_broken_not_soft() -> None:
    judgement = judge(page(status=404, title="Page not found", heading="Page not found"))
    assert judgement.verdict is Verdict.BROKEN


def test_plain_200_is_ok() -> None:
    judgement = judge(page())
    assert judgement.verdict is Verdict.OK
    assert judgement.permanent_redirect is None


def test_unexpected_status_is_not_checkable() -> None:
    assert judge(page(status=600)).verdict is Verdict.NOT_CHECKABLE


# --- final 3xx ----------------------------------------------------------------------------
def test_final_redirect_without_location_is_broken() -> None:
    judgement = judge(page(status=302, location=None))
    assert judgement.verdict is Verdict.BROKEN
    assert "Location" in judgement.reason


def test_final_redirect_to_unfollowable_scheme_is_broken() -> None:
    judgement = judge(page(status=301, location="mailto:someone@example.com"))
    assert judgement.verdict is Verdict.BROKEN


def test_final_redirect_that_was_not_followed_is_not_checkable() -> None:
    judgement = judge(page(status=302, location="/elsewhere"))
    assert judgement.verdict is Verdict.NOT_CHECKABLE
    assert "https://example.com/elsewhere" in judgement.reason


def test_not_modified_to_our_validators_is_ok_and_keeps_its_redirect() -> None:
    unchanged = replace(page(status=304, title=None, heading=None, text=""), conditional=True)
    judgement = judge(unchanged)
    assert judgement.verdict is Verdict.OK and "not modified" in judgement.reason
    moved = replace(page(status=304, redirects=(("https://example.com/old", 301),),
                         title=None, heading=None, text=""), conditional=True)
    # the same verdict as the 200 it confirms: a redirect stays a redirect
    assert judge(moved).verdict is Verdict.REDIRECTED
    assert not needs_probe(unchanged)


def test_not_modified_without_validators_is_not_trusted() -> None:
    # A 304 to a request that carried no validators is a server bug or a lie: no evidence.
    judgement = judge(page(status=304))
    assert judgement.verdict is Verdict.NOT_CHECKABLE
    assert "without validators" in judgement.reason


# --- redirects and loops ------------------------------------------------------------------
def test_permanent_redirect_chain() -> None:
    judgement = judge(
        page(
            "https://example.com/new/",
            redirects=(("http://example.com/old", 301), ("https://example.com/old", 308)),
        )
    )
    assert judgement.verdict is Verdict.REDIRECTED
    assert judgement.permanent_redirect is True


@pytest.mark.parametrize("temporary", [302, 303, 307])
def test_any_temporary_hop_makes_the_redirect_temporary(temporary: int) -> None:
    judgement = judge(
        page(
            "https://example.com/new/",
            redirects=(("http://example.com/old", 301), ("https://example.com/old", temporary)),
        )
    )
    assert judgement.verdict is Verdict.REDIRECTED
    assert judgement.permanent_redirect is False


def test_hop_list_revisiting_a_url_is_a_loop() -> None:
    obs = Observation(
        url="https://example.com/a",
        hops=(
            Hop("https://example.com/a", 302, "/b"),
            Hop("https://example.com/b", 302, "/a"),
            Hop("https://EXAMPLE.com:443/a#x", 302, "/b"),
        ),
    )
    assert judge(obs).verdict is Verdict.REDIRECT_LOOP


def test_cookie_bounce_that_ends_in_200_is_not_a_loop() -> None:
    obs = Observation(
        url="https://example.com/a",
        hops=(
            Hop("https://example.com/a", 302, "/consent"),
            Hop("https://example.com/consent", 302, "/a"),
            Hop("https://example.com/a", 200),
        ),
        title="A story",
        text="Text.",
    )
    assert judge(obs).verdict is Verdict.REDIRECTED


# --- blocked vs broken --------------------------------------------------------------------
def test_challenge_at_200_is_blocked() -> None:
    obs = page(
        title="Just a moment...", heading=None, text="Checking your browser before accessing."
    )
    assert judge(obs).verdict is Verdict.BLOCKED


def test_challenge_at_503_is_blocked_not_server_error() -> None:
    obs = page(status=503, title="Example", headers=(("CF-Mitigated", "challenge"),))
    judgement = judge(obs)
    assert judgement.verdict is Verdict.BLOCKED
    assert "503" in judgement.reason


def test_challenge_at_404_is_blocked_not_broken() -> None:
    obs = page(status=404, title="Human Verification", heading=None, text="Press & Hold")
    assert judge(obs).verdict is Verdict.BLOCKED


def test_plain_503_is_server_error() -> None:
    assert judge(page(status=503, title="Service Unavailable")).verdict is Verdict.SERVER_ERROR


def test_long_article_about_captchas_is_not_a_challenge() -> None:
    text = "Why captcha puzzles are getting harder for humans and easier for bots. " * 40
    obs = page(
        title="The captcha arms race | Tech Weekly", heading="The captcha arms race", text=text
    )
    assert not looks_like_bot_challenge(obs)
    assert judge(obs).verdict is Verdict.OK


@pytest.mark.parametrize(
    ("title", "heading", "text", "headers"),
    [
        ("Attention Required! | Cloudflare", None, "", ()),
        ("Access Denied", "Access Denied", "Reference #18.2f", ()),
        ("Example", None, "Enable JavaScript and cookies to continue", ()),
        ("Pardon Our Interruption", None, "", ()),
        ("百度安全验证", None, "请完成下方验证后继续操作", ()),
        ("Example", None, "", (("x-amzn-waf-action", "captcha"),)),
        ("Robot Check", None, "Enter the characters you see below", ()),
    ],
)
def test_bot_challenges_are_recognised(
    title: str, heading: str | None, text: str, headers: tuple[tuple[str, str], ...]
) -> None:
    assert looks_like_bot_challenge(page(title=title, heading=heading, text=text, headers=headers))


def test_ordinary_page_is_not_a_challenge() -> None:
    assert not looks_like_bot_challenge(page(title="Access Denied: a history of censorship | Blog"))


# --- soft-404 (a): wording ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("title", "heading"),
    [
        ("Page Not Found | The Guardian", None),
        ("404 Not Found", None),
        ("Example", "Error 404"),
        ("Oops! That page can’t be found. – My Blog", None),
        ("This content isn't available right now", None),
        ("Nothing Found | Blog", None),
        ("页面不存在_新浪网", None),
        ("东方快讯", "您访问的页面不存在"),
        ("找不到网页 - 示例", None),
        ("页面未找到", None),
        ("抱歉，您访问的页面已被删除", None),
        ("页面走丢了", None),
    ],
)
def test_not_found_wording(title: str, heading: str | None) -> None:
    assert looks_like_not_found(title, heading)


@pytest.mark.parametrize(
    ("title", "heading"),
    [
        ("How to Fix a 404 Error | WPGuide", "How to Fix a 404 Error"),
        ("What Is a 404 Error? Everything You Need to Know", None),
        ("Why your 404 page matters for SEO", None),
        ("‘Not Found’: Inside the Internet's Missing Pages | Wired", None),
        ("Inside the data broker industry | 404 Media", None),
        ("Lost and Found | Harbor Transit", None),
        ("网站404页面怎么设计？十个优秀案例", None),
        ("世界上不存在完美的代码 - 程序员周刊", None),
        ("Temporarily unavailable", None),
        (None, None),
        ("", ""),
    ],
)
def test_not_found_wording_false_friends(title: str | None, heading: str | None) -> None:
    assert not looks_like_not_found(title, heading)


def test_wording_in_body_text_alone_is_not_enough() -> None:
    obs = page(
        title="Troubleshooting | Docs", heading="Troubleshooting", text="Page not found. " * 3
    )
    assert judge(obs).verdict is Verdict.OK


def test_soft_404_by_wording_names_it_in_the_reason() -> None:
    judgement = judge(page(title="Page not found – Blog"))
    assert judgement.verdict is Verdict.SOFT_404
    assert "not found" in judgement.reason.lower()


# --- soft-404 (b): deep link to a root ----------------------------------------------------
def test_deep_link_redirected_to_root_is_soft_404() -> None:
    obs = page("https://example.com/", redirects=(("https://example.com/2019/story", 301),))
    assert judge(obs).verdict is Verdict.SOFT_404


def test_deep_link_redirected_to_another_hosts_root_is_soft_404() -> None:
    obs = page("https://new.example/", redirects=(("https://old.example/products/x", 301),))
    judgement = judge(obs)
    assert judgement.verdict is Verdict.SOFT_404
    assert "another host" in judgement.reason


def test_root_link_redirected_to_root_is_fine() -> None:
    obs = page("https://www.example.com/", redirects=(("http://example.com/", 301),))
    judgement = judge(obs)
    assert judgement.verdict is Verdict.REDIRECTED
    assert judgement.permanent_redirect is True


def test_deep_link_redirected_to_a_content_query_is_not_root() -> None:
    obs = page("https://example.com/?p=123", redirects=(("https://example.com/2019/story", 301),))
    assert judge(obs).verdict is Verdict.REDIRECTED


def test_shortener_to_home_page_is_fine() -> None:
    obs = page("https://example.com/", redirects=(("https://bit.ly/abc", 301),))
    assert judge(obs).verdict is Verdict.REDIRECTED


# --- soft-404 (c): the probe --------------------------------------------------------------
TEMPLATE = "We looked everywhere but came up empty. Popular: kettles, teapots, mugs, cups."


def test_probe_with_same_title_and_text_reveals_soft_404() -> None:
    target = page("https://shop.example/p/kettle", title="Shop", heading="Oops", text=TEMPLATE)
    probe = page(
        "https://shop.example/p/rotwatch-probe-1", title="Shop", heading="Oops", text=TEMPLATE
    )
    assert judge(target).verdict is Verdict.OK  # without the probe there is no evidence
    assert judge(target, probe).verdict is Verdict.SOFT_404


def test_honest_404_probe_says_nothing() -> None:
    target = page("https://shop.example/p/kettle", title="Shop", heading="Oops", text=TEMPLATE)
    probe = page("https://shop.example/p/rotwatch-probe-1", status=404, title="Shop", text=TEMPLATE)
    assert judge(target, probe).verdict is Verdict.OK


def test_probe_that_failed_says_nothing() -> None:
    target = page("https://shop.example/p/kettle", title="Shop", text=TEMPLATE)
    probe = Observation(url="https://shop.example/p/rotwatch-probe-1", error=ErrorKind.TIMEOUT)
    assert judge(target, probe).verdict is Verdict.OK


def test_probe_landing_on_the_same_final_url_reveals_soft_404() -> None:
    target = page("https://ex.com/err", redirects=(("https://ex.com/a/gone", 302),), text="x")
    probe = page("https://ex.com/err", redirects=(("https://ex.com/a/rotwatch-probe-1", 302),))
    assert judge(target, probe).verdict is Verdict.SOFT_404


def test_probe_landing_on_the_unredirected_target_says_nothing() -> None:
    target = page("https://ex.com/a/latest", title="Latest", text=TEMPLATE)
    probe = page(
        "https://ex.com/a/latest",
        redirects=(("https://ex.com/a/rotwatch-probe-1", 302),),
        title="Latest",
        text=TEMPLATE,
    )
    assert judge(target, probe).verdict is Verdict.OK


def test_probe_from_another_host_is_ignored() -> None:
    target = page("https://shop.example/p/kettle", title="Shop", text=TEMPLATE)
    probe = page("https://other.example/p/rotwatch-probe-1", title="Shop", text=TEMPLATE)
    assert judge(target, probe).verdict is Verdict.OK


def test_identical_javascript_shells_say_nothing() -> None:
    shell = "You need to enable JavaScript to run this app."
    target = page("https://app.example/p/1", title="App", text=shell)
    probe = page("https://app.example/p/rotwatch-probe-1", title="App", text=shell)
    assert judge(target, probe).verdict is Verdict.OK


def test_different_content_types_say_nothing() -> None:
    target = page(
        "https://ex.com/f/a.pdf", title="Ex", text=TEMPLATE, content_type="application/pdf"
    )
    probe = page("https://ex.com/f/rotwatch-probe-1.pdf", title="Ex", text=TEMPLATE)
    assert judge(target, probe).verdict is Verdict.OK


def test_probe_is_ignored_for_a_root_target() -> None:
    target = page("https://ex.com/", title="Ex", text=TEMPLATE)
    probe = page("https://ex.com/rotwatch-probe-1", title="Ex", text=TEMPLATE)
    assert judge(target, probe).verdict is Verdict.OK


# --- probe URLs, keys and when to probe ---------------------------------------------------
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://Example.com/news/2020/story", "https://example.com/news/2020/rotwatch-probe-t1"),
        ("https://example.com/a/page.html?x=1#f", "https://example.com/a/rotwatch-probe-t1.html"),
        ("http://example.com:8080/docs/guide/", "http://example.com:8080/docs/rotwatch-probe-t1/"),
        ("https://example.com:443/story", "https://example.com/rotwatch-probe-t1"),
        ("https://example.com", "https://example.com/rotwatch-probe-t1"),
        ("https://example.com/a/.hidden", "https://example.com/a/rotwatch-probe-t1"),
    ],
)
def test_probe_url(url: str, expected: str) -> None:
    assert probe_url(url, "t1") == expected


@pytest.mark.parametrize("token", ["", "a/b", "x y", "ü", "a" * 65])
def test_probe_url_rejects_unsafe_tokens(token: str) -> None:
    with pytest.raises(ValueError):
        probe_url("https://example.com/a", token)


def test_probe_key_groups_siblings() -> None:
    assert probe_key("https://example.com/news/a") == probe_key("https://EXAMPLE.com/news/b?x=1")
    assert probe_key("https://example.com/news/a") == "https://example.com/news/*"
    assert probe_key("https://example.com/news/a") != probe_key("https://example.com/blog/a")
    assert probe_key("https://example.com/news/a") != probe_key("https://example.com/news/a.pdf")


def test_same_key_exactly_when_same_probe_url() -> None:
    urls = [
        "https://example.com/news/a",
        "https://example.com/news/b",
        "https://example.com/news/c.html",
        "https://example.com/news/d.html",
        "https://example.com/news/e/",
        "https://example.com:8443/news/a",
        "http://example.com/news/a",
        "https://example.com/a",
    ]
    for left in urls:
        for right in urls:
            same_key = probe_key(left) == probe_key(right)
            assert same_key == (probe_url(left, "t") == probe_url(right, "t")), (left, right)


def test_needs_probe() -> None:
    assert needs_probe(page("https://ex.com/news/story"))
    assert not needs_probe(page("https://ex.com/"))
    assert not needs_probe(page("https://ex.com/en/"))
    assert not needs_probe(page("https://ex.com/news/story", status=404))
    assert not needs_probe(page("https://ex.com/news/story", status=301, location="/x"))
    assert not needs_probe(Observation(url="https://ex.com/a", error=ErrorKind.DNS))
    # Already decided by the cheap rules: a probe could not change the verdict.
    assert not needs_probe(page("https://ex.com/news/story", title="Page not found"))
    assert not needs_probe(page("https://ex.com/news/story", title="Just a moment..."))
    assert not needs_probe(page("https://ex.com/", redirects=(("https://ex.com/news/x", 301),)))


# --- probes by the identifying query parameter ---------------------------------------------
@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("https://video.example/watch?v=dQw4w9WgXcQ", "v"),
        ("https://shop.example/item.php?id=42", "id"),
        ("https://blog.example/?p=123", "p"),
        ("https://forum.example/view?lang=en&thread=88412", "thread"),
        ("https://example.com/a/page.html?x=1", None),
        ("https://example.com/a/page.html?utm_campaign=spring2024", None),  # not an id name
        ("https://example.com/search?q=climate", None),
        ("https://example.com/news/story", None),
    ],
)
def test_identifying_parameter(url: str, parameter: str | None) -> None:
    assert identifying_parameter(url) == parameter


def test_query_probe_replaces_only_the_id_value() -> None:
    probe = probe_url("https://video.example/watch?v=dQw4w9WgXcQ&t=42", "t1")
    parts = urlsplit(probe)
    assert parts.path == "/watch"
    values = dict(parse_qsl(parts.query))
    assert values["t"] == "42" and values["v"] != "dQw4w9WgXcQ"
    numeric = dict(parse_qsl(urlsplit(probe_url("https://s.example/item.php?id=42", "t1")).query))
    assert numeric["id"].isdigit() and numeric["id"] != "42"


def test_query_probe_keys_group_items_of_one_page_kind() -> None:
    a, b = "https://video.example/watch?v=aaaa1111", "https://video.example/watch?v=bbbbbbbbbb22"
    assert without_parameter(a) == without_parameter(b) == "https://video.example/watch"
    assert probe_key(a) == probe_key(b) == "https://video.example/watch?v=*"
    assert probe_url(a, "t") == probe_url(b, "t")
    assert probe_key("https://s.example/item.php?id=42") != probe_key("https://s.example/item.php?id=x42y")
    assert probe_url("https://s.example/item.php?id=42", "t") != probe_url(
        "https://s.example/item.php?id=x42y", "t")


def test_video_page_that_is_gone_but_answers_200_is_a_soft_404() -> None:
    unavailable = "This video isn't available anymore. Try searching for another. " * 3
    target = page("https://video.example/watch?v=gone0001", title="Video", text=unavailable)
    probe = page(probe_url(target.url, "t"), title="Video", text=unavailable)
    home = page("https://video.example/", title="Video home", text="Trending now. " * 40,
                redirects=(("https://video.example/watch", 302),))
    assert needs_probe(target)
    assert judge(target).verdict is Verdict.OK  # nothing but the probe can tell
    assert judge(target, probe, home).verdict is Verdict.SOFT_404
    # The page without the parameter could not be fetched: no evidence either way.
    assert judge(target, probe).verdict is Verdict.OK
    live = page("https://video.example/watch?v=live0001", title="Levee holds | Video",
                text="Engineers inspected the levee as the flood crest passed the town. " * 20)
    assert judge(live, probe, home).verdict is Verdict.OK


def test_a_parameter_the_site_ignores_is_no_evidence() -> None:
    article = "The levee held as the flood crest passed the town overnight. " * 30
    target = page("https://news.example/story?id=123", title="Levee holds", text=article)
    # The site ignores ?id=: a made-up id and no id at all give the same live article.
    probe = page(probe_url(target.url, "t"), title="Levee holds", text=article)
    unnamed = page("https://news.example/story", title="Levee holds", text=article)
    assert judge(target, probe, unnamed).verdict is Verdict.OK


def test_root_with_an_item_id_is_probed() -> None:
    assert needs_probe(page("https://blog.example/?p=123"))
    assert not needs_probe(page("https://blog.example/"))


@pytest.mark.parametrize("url", [
    "https://example.com", "https://example.com/", "https://example.com/?utm_source=x",
    "https://example.com/?p=12", "https://example.com/en/", "https://example.com/de-at",
    "https://example.com/index.html", "https://example.com/news/a?utm_medium=y",
    "https://example.com/a/b/c", "https://example.com/?fbclid=1&utm_x=2", "https://example.com/?",
    "https://example.com/EN/?gclid=9", "https://example.com/en/?ref=1", "http://h/?&&",
])
def test_is_root_reads_the_query_only_for_a_root_path(url: str) -> None:
    # The deep-path shortcut gives the full rule's answer (path and tracking-only query).
    parts = urlsplit(url)
    keys = [k.lower() for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
    full = bool(ROOT_PATH.fullmatch(parts.path or "/")) and all(
        k.startswith("utm_") or k in TRACKING_KEYS for k in keys)
    assert is_root(url) == full
