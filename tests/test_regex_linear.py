"""Every regex that sees untrusted text (seeds, pages, headers) runs in linear time.

For each pattern, adversarial inputs are built at two sizes, n and 8n. A linear matcher
costs ~8x more on the larger one; a quadratic one ~64x, a cubic one ~512x. The budget is
generous (30x, CPU time, best of three, with a 1 ms floor so timer noise cannot fail it)
and there is an absolute ceiling per call. Sizes are chosen so that each pattern as it was
before being made linear costs well over the floor at n, so the ratio check can fail.
A last check runs each case at seed-scale (~64k characters) against the ceiling.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from core import operator_rules, roles, text_decoding, textsim, verdict_patterns
from core.url_filter import UrlFilter
from crawler.extract import formats, link_context
from crawler.extract import links as extract
from rotwatch import drift

RATIO_BUDGET = 30.0  # for 8x the input; linear is ~8, quadratic ~64
FLOOR_S = 0.001
CEILING_S = 2.0
SEED_SCALE = 65_536


def _cpu(func: Callable[[Any], object], arg: Any) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        func(arg)
        best = min(best, time.process_time() - start)
    return best


# (name, call, build(n) -> input, n). `build` gets a repeat count or a length.
Case = tuple[str, Callable[[Any], object], Callable[[int], Any], int]


def _detect(text: str) -> object:
    return formats.detect_format(text, "x.txt")


def _text(prefix: str, unit: str, suffix: str = "") -> Callable[[int], str]:
    return lambda n: prefix + unit * n + suffix


CASES: list[Case] = [
    # crawler/formats.py: format detection runs on the first 64 KB of any seed
    ("md-link open brackets", _detect, _text("", "[]("), 150),
    ("md-link label no close", _detect, _text("", "["), 2000),
    ("md-link dest no close", _detect, _text("[a](", "x"), 4000),
    ("md-link reference lines", _detect, _text("", "[a\n"), 2000),
    ("md-link autolink no close", _detect,
     _text("", "<http://"), 1000),
    ("md-link spaces", _detect, _text("[", " "), 4000),
    # markdown-it-py's inline linkify rule ran a scheme regex over all pending text
    ("markdown linkify schemes", formats.markdown_to_html, _text("x\n\n", "<http://"), 500),
    ("news-export newlines", formats._NEWS_EXPORT.match,
     _text("<!--1234567890-->", "\n", "x"), 1000),
    ("news-export after title", formats._NEWS_EXPORT.match,
     _text("<!--1234567890-->\n[t](https://a.example/)", " \n", "x"), 1000),
    ("news-export no header", formats._NEWS_EXPORT.match, _text("", " \n"), 2000),
    ("html-start spaces", formats._HTML_START.match, _text("", " ", "x"), 4000),
    ("html-tags", formats._HTML_TAGS.findall, _text("", "<a"), 4000),
    ("bare-url schemes", formats.find_bare_urls, _text("", "http://"), 2000),
    ("bare-url www", formats.find_bare_urls, _text("", "www."), 2000),
    ("bare-url trailing parens", formats.find_bare_urls, _text("http://x.example/", ")"), 4000),
    ("bare-url trailing dots", formats.find_bare_urls, _text("http://x.example/", "."), 4000),
    ("bare-url balanced parens", formats.find_bare_urls, _text("http://x.example/", "()"), 4000),
    # crawler/extract.py
    ("sentence-end blank runs", lambda s: extract.sentence_around(s, "x", s),
     _text("\n", " "), 4000),
    ("sentence-end dots", lambda s: extract.sentence_around(s, "x", s), _text("", ". "), 4000),
    ("spaces", link_context.clean, _text("a", " \t"), 4000),
    ("srcset separators", extract._srcset_urls, _text("a.png", ",  "), 4000),
    # crawler/roles.py: anchor text, URLs and hosts of every link
    ("role original", roles._ORIGINAL_TEXT.search, _text("", "read this in englis"), 1000),
    ("role author text", roles._AUTHOR_TEXT.search, _text("", "more about the autho"), 1000),
    ("role author path", roles._AUTHOR_PATH.search, _text("", "/by/author"), 1000),
    ("role primary text", roles._PRIMARY_TEXT.search, _text("", "joint declaratio"), 1000),
    ("role primary host", roles._PRIMARY_HOST.search, _text("", "gov.gov."), 1000),
    # crawler/textsim.py: every page text compared
    ("non-word", textsim.normalise_text, _text("", "!_a"), 4000),
    # crawler/verdict_patterns.py: titles, headings and body text of every page
    ("not-found words", verdict_patterns.NOT_FOUND.search, _text("", "not be "), 1000),
    ("not-found spaces", verdict_patterns.NOT_FOUND.search, _text("not", " ", "x"), 4000),
    ("challenge title", verdict_patterns.CHALLENGE_TITLE.search, _text("", "are you a "), 1000),
    ("challenge text", verdict_patterns.CHALLENGE_TEXT.search, _text("", "verifying you are "),
     1000),
    ("js shell", verdict_patterns.JS_SHELL.search, _text("", "javascript is "), 1000),
    ("title separator spaces", verdict_patterns.TITLE_SEPARATOR.split, _text("a", " ", "b"), 2000),
    ("title separator dashes", verdict_patterns.TITLE_SEPARATOR.split, _text("a", " - "), 1000),
    ("title candidates", verdict_patterns.title_candidates, _text("a", " \t", "b"), 2000),
    ("root path", verdict_patterns.ROOT_PATH.fullmatch, _text("", "/en-us"), 1000),
    ("extension", verdict_patterns.EXTENSION.search, _text("", ".abcd"), 2000),
    ("token", verdict_patterns.TOKEN.fullmatch, _text("", "a-"), 4000),
    # core/text_decoding.py: the first 4 KB of every page and seed, repeated for the test
    ("meta charset opens", text_decoding._META_CHARSET.search, lambda n: b"<meta" * n, 400),
    ("meta charset spaces", text_decoding._META_CHARSET.search,
     lambda n: b"<meta charset=" + b" " * n + b"!", 1000),
    ("meta charset no equals", text_decoding._META_CHARSET.search,
     lambda n: b"<meta " + b"charset " * n, 500),
    ("xml declaration no encoding", text_decoding._XML_DECLARATION.match,
     lambda n: b"<?xml " + b"version " * n, 1000),
    # archive/drift.py: the headline of every archived page
    ("drift title unclosed", drift._html_title, lambda n: "<title>" * n, 1000),
    ("drift h1 unclosed", drift._html_title, lambda n: "<h1>x" * n, 1000),
    ("drift tag opens", lambda text: drift._TAG.sub(" ", text), lambda n: "<a" * n, 1000),
    # core/url_filter.py: operator patterns searched in every target URL. The costliest
    # shapes accepted, on URLs that never match; past MAX_URL characters the cost stays.
    ("url filter leading .*", UrlFilter.of([r".*x"]).keeps, _text("http://", "a"), 2100),
    ("url filter anchored two .*", UrlFilter.of([r"^.*a.*b"]).keeps, _text("", "a"), 2100),
    ("url filter classes", UrlFilter.of([r"\.[a-z]{1,63}\.gov/"]).keeps, _text("", ".a"), 1100),
    ("url filter exclude", UrlFilter.of(exclude=[r"a.*c$"]).keeps, _text("", "ab"), 1100),
    # core/operator_rules.py: --accept rules from the command line and config
    ("accept host part", lambda t: operator_rules._HOST_PART.match(t), _text("", "a.", "a=4"),
     2000),
    ("accept codes", lambda t: operator_rules._RANGE.fullmatch(t), _text("200..", "2"), 4000),
    ("accept no host", lambda t: operator_rules._HOST_PART.match(t), _text("", "."), 4000),
]


@pytest.mark.parametrize(("name", "call", "build", "n"), CASES, ids=[c[0] for c in CASES])
def test_pattern_is_linear(name: str, call: Callable[[Any], object],
                           build: Callable[[int], Any], n: int) -> None:
    small = _cpu(call, build(n))
    assert small < CEILING_S, f"{name}: {small:.3f} s at n={n}"
    large = _cpu(call, build(8 * n))
    ratio = large / max(small, FLOOR_S)
    assert ratio < RATIO_BUDGET, (
        f"{name}: 8x input cost {ratio:.0f}x ({small:.4f} s -> {large:.4f} s)")
    assert large < CEILING_S, f"{name}: {large:.3f} s at n={8 * n}"
    # Seed scale: as long as a whole detection head, or a long page title.
    unit_len = max(1, len(build(1)) - len(build(0)))
    huge = _cpu(call, build(SEED_SCALE // unit_len))
    assert huge < CEILING_S, f"{name}: {huge:.3f} s at ~{SEED_SCALE} characters"
