"""Fast paths that must give exactly what the code they replaced gave: core.textsim's ASCII
normalisation and its early-refusing similarity, and page facts' whitespace collapsing, text
sample (cleaned only as far as the sample reaches) and element lookups."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html

from core.text_decoding import decode_text
from core.textsim import normalise_text, similarity, similarity_at_least
from crawler.fetch.content import PARSE_LIMIT, TEXT_SAMPLE_CHARS, _clean, _sample, page_facts

FIXTURES = Path(__file__).parent / "fixtures"
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def _general(text: str) -> str:
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=200))
def test_ascii_text_normalises_as_the_general_path_does(text: str) -> None:
    assert normalise_text(text) == _general(text)


def test_every_ascii_pair_between_words() -> None:
    for a in range(128):
        for b in range(128):
            text = f"Ab{chr(a)}{chr(b)}c_D {chr(a)}"
            assert normalise_text(text) == _general(text), repr(text)


def test_non_ascii_text_still_takes_the_unicode_path() -> None:
    assert normalise_text("Ｆｕｌｌ－ｗｉｄｔｈ　ＳＴＲＡẞE, 北京！") == "full width strasse 北京"


def test_page_text_collapses_every_kind_of_whitespace_as_the_regex_did() -> None:
    spaces = [chr(c) for c in range(0x3001) if re.fullmatch(r"\s", chr(c))]
    assert "\u3000" in spaces and "\x1c" in spaces and "\u200b" not in spaces
    body = "<html><body><p>" + "x".join(f"a{s}{s}b" for s in spaces) + " \u200b </p></body></html>"
    facts = page_facts(body.encode("utf-8"), "text/html; charset=utf-8", "utf-8")
    assert facts.text == re.sub(r"\s+", " ", "x".join(f"a{s}{s}b" for s in spaces)
                                + " \u200b ").strip()


_TEXTS = st.text(alphabet=st.sampled_from("abcde fgh.,北京天安门上海"), max_size=120)


@settings(max_examples=600, deadline=None)
@given(_TEXTS, _TEXTS, st.sampled_from([0.05, 0.3, 0.5, 0.65, 0.9, 1.0]), st.integers(2, 5))
def test_similarity_at_least_is_similarity_above_its_floor(a: str, b: str, floor: float,
                                                          n: int) -> None:
    score = similarity(a, b, n)
    assert similarity_at_least(a, b, floor, n) == (score if score >= floor else None)
    # What the verdict asks: both sides normalised already (ASCII is then not redone).
    ours, theirs = normalise_text(a), normalise_text(b)
    score = similarity(ours, theirs, n)
    assert similarity_at_least(ours, theirs, floor, n, normalised=True) == (
        score if score >= floor else None)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=200))
def test_normalised_ascii_normalises_to_itself(text: str) -> None:
    once = normalise_text(text)
    assert once.isascii() and normalise_text(once) == once


def test_a_long_page_against_a_short_error_page_is_refused_early() -> None:
    page = " ".join(f"paragraph {i} of a long article about the harbour" for i in range(400))
    assert similarity_at_least(page, "Not found. Sorry.", 0.9) is None
    assert similarity_at_least(page, page.upper(), 0.9) == 1.0


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(["a", "bc", " ", "\n", "\t", "\u3000", "é", "  \n  ", "xxxxx"]),
                max_size=400), st.integers(1, 60))
def test_the_text_sample_is_the_cleaned_text_cut(parts: list[str], limit: int) -> None:
    text = "".join(parts)
    assert _sample(text, limit) == _clean(text)[:limit]


def test_an_article_sample_is_its_cleaned_text_cut_whatever_the_indentation() -> None:
    words = " ".join(f"w{i}" for i in range(20_000))
    for gap in ("\n", "\n" + " " * 200, " " * 3_000):
        text = gap.join(words.split(" "))
        assert len(text) > 2 * TEXT_SAMPLE_CHARS
        assert _sample(text, TEXT_SAMPLE_CHARS) == _clean(text)[:TEXT_SAMPLE_CHARS]
        page = f"<html><body><p>{text[:PARSE_LIMIT - 100]}</p></body></html>".encode()
        facts = page_facts(page, "text/html", None)
        assert facts.text == _clean(text[:PARSE_LIMIT - 100])[:TEXT_SAMPLE_CHARS]


def _facts_by_xpath(page: bytes) -> tuple[str | None, str | None, str]:
    """Page facts as the XPaths //title, //h1 and //script|//style|//noscript|//template
    found them (before lxml's tree walks replaced them)."""
    text = decode_text(page, "utf-8", limit=PARSE_LIMIT).text.encode("utf-8", "replace")
    root = lxml_html.document_fromstring(text, parser=lxml_html.HTMLParser(encoding="utf-8"))

    def first(path: str) -> str | None:
        found = root.xpath(path)
        return (_clean(found[0].text_content())[:500] or None) if found else None

    title, heading = first("//title"), first("//h1")
    for bad in root.xpath("//script|//style|//noscript|//template"):
        bad.drop_tree()
    body = root.find("body")
    return title, heading, _clean((body if body is not None else root).text_content())[
        :TEXT_SAMPLE_CHARS]


def test_page_facts_find_what_the_xpaths_found() -> None:
    pages = [path.read_bytes() for path in sorted(FIXTURES.rglob("*.html"))]
    pages += [
        b"<html><head><title>A <b>bold</b> one</title><title>second</title></head><body>"
        b"<noscript><p>no<script>x()</script>js</p></noscript><h1>first <i>h</i></h1>"
        b"<template><h1>hidden</h1></template><svg><title>icon</title></svg><h1>two</h1>"
        b"<style>p{}</style>text <script>var a</script>tail</body></html>",
        b"<title>only a title</title>", b"<h1>only a heading</h1><p>and text</p>",
        b"<p>no title, <script>nested <noscript>odd</noscript></script> no heading</p>",
    ]
    assert len(pages) > 20
    for page in pages:
        facts = page_facts(page, "text/html; charset=utf-8", "utf-8")
        assert (facts.title, facts.heading, facts.text) == _facts_by_xpath(page), page[:80]
