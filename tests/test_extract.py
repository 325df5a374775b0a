"""Extraction: every format, every role, every encoding, and the default seed exactly."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.documents import Role, SeedError, SeedFormat
from core.urls import resolve
from crawler.extract.formats import detect_format, find_bare_urls
from crawler.extract.links import extract

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "seeds"
DEFAULT_SEED = ROOT / "seeds" / "nyt-cn-20240729-blinken-wang-yi.txt"


def _extract(name: str):
    path = FIXTURES / name
    return extract(path.read_bytes(), str(path))


def test_default_seed_has_its_nine_links_with_their_roles() -> None:
    result = extract(DEFAULT_SEED.read_bytes(), str(DEFAULT_SEED))
    roles = Counter(link.role for link in result.links)
    assert roles == {Role.SELF: 1, Role.IMAGE: 1, Role.CITATION: 4, Role.PRIMARY_SOURCE: 1,
                     Role.AUTHOR: 1, Role.ORIGINAL: 1}
    by_role = {link.role: link for link in result.links}
    assert by_role[Role.PRIMARY_SOURCE].host == "www.mfa.gov.cn"
    assert by_role[Role.PRIMARY_SOURCE].anchor_text == "会面纪要"
    assert by_role[Role.AUTHOR].url == "https://www.nytimes.com/by/edward-wong"
    assert by_role[Role.ORIGINAL].url.endswith("/blinken-wang-yi-china-united-states-tensions.html")
    assert by_role[Role.SELF].url == result.document.url
    citations = sorted(link.host for link in result.links if link.role is Role.CITATION)
    assert citations == ["asean.org", "www.nytimes.com", "www.nytimes.com", "www.nytimes.com"]
    image = by_role[Role.IMAGE]
    # The proxy's query *is* the resource: it stays in the key verbatim.
    assert image.key.startswith("https://images.weserv.nl/?url=static01.nyt.com/images/2024/")


def test_default_seed_document_facts() -> None:
    doc = extract(DEFAULT_SEED.read_bytes(), str(DEFAULT_SEED)).document
    assert doc.format is SeedFormat.NEWS_EXPORT
    assert doc.title == "布林肯与王毅会面，就中国对俄罗斯军事支持向中方施压"
    assert doc.author == "黄安伟"
    assert doc.published_at == datetime.fromtimestamp(1722218822, tz=UTC)
    assert doc.url == ("https://cn.nytimes.com/world/20240729/"
                       "blinken-wang-yi-china-united-states-tensions/")


def test_context_is_the_chinese_sentence_around_the_link() -> None:
    result = extract(DEFAULT_SEED.read_bytes(), str(DEFAULT_SEED))
    readout = next(link for link in result.links if link.role is Role.PRIMARY_SOURCE)
    assert readout.context == ("据中国外交部发表的双方会面纪要，王毅表示，中国在乌克兰问题上的的"
                               "立场坦坦荡荡，将继续坚持劝和促谈。")
    first = next(link for link in result.links if "blinken-asia" in link.url)
    assert first.context.startswith("上周六是布林肯最雄心勃勃的亚洲之行")
    assert first.title == f"Link: {first.url}"
    assert [link.position for link in result.links] == list(range(len(result.links)))


def test_html_roles_base_and_canonical() -> None:
    result = _extract("article.html")
    assert result.document.format is SeedFormat.HTML
    assert result.document.url == "https://news.example.com/2024/07/ministers-meet.html"
    assert result.document.author == "Jane Reporter"
    roles = {link.url: link.role for link in result.links}
    assert roles["https://news.example.com/2024/07/ministers-meet.html"] is Role.SELF
    assert roles["https://cn.news.example.com/2024/07/ministers-meet/"] is Role.ORIGINAL
    assert roles["https://news.example.com/by/jane-reporter"] is Role.AUTHOR
    assert roles["https://www.state.gov/secretary-blinkens-meeting/"] is Role.PRIMARY_SOURCE
    assert roles["https://www.un.org/en/"] is Role.PRIMARY_SOURCE
    # <base href> applies to relative links
    assert roles["https://news.example.com/2024/07/other-story.html"] is Role.CITATION
    assert roles["https://news.example.com/2024/07/images/photo-3x.jpg"] is Role.IMAGE
    assert roles["https://video.example.org/embed/123"] is Role.MEDIA
    assert roles["https://news.example.com/"] is Role.NAVIGATION
    assert roles["https://ads.example.net/click"] is Role.NAVIGATION
    assert not any(url.endswith("site.css") for url in roles)  # stylesheets are not links


def test_unchecked_schemes_are_recorded_with_a_reason() -> None:
    links = {link.href: link for link in _extract("article.html").links}
    assert links["mailto:tips@news.example.com"].checkable is False
    assert "mailto" in (links["mailto:tips@news.example.com"].reason or "")
    assert links["javascript:void(0)"].checkable is False
    for href in ("tel:+15551234", "data:text/plain,hi", "http://[::1", "http://:80/x"):
        resolved = resolve(href, "https://example.org/")
        assert resolved.checkable is False and resolved.reason


def test_markdown_inline_reference_autolink_bare_and_raw_html() -> None:
    result = _extract("notes.md")
    assert result.document.format is SeedFormat.MARKDOWN
    urls = [link.url for link in result.links]
    assert urls == ["https://example.org/report.pdf", "https://example.org/data.csv",
                    "https://example.org/auto", "https://example.org/bare",
                    "https://example.org/raw-html", "https://example.org/chart.png"]
    assert result.links[0].title == "The report"
    assert result.links[-1].role is Role.IMAGE


def test_plain_text_strips_trailing_and_cjk_punctuation() -> None:
    result = _extract("plain.txt")
    assert result.document.format is SeedFormat.TEXT
    urls = [link.url for link in result.links if link.checkable]
    assert urls == ["https://example.org/one", "https://example.org/two",
                    "https://en.wikipedia.org/wiki/Link_rot_(web)",
                    "https://example.cn/zh/%E6%96%87%E7%AB%A0", "https://example.cn/more",
                    "http://www.example.net/path"]
    broken = [link for link in result.links if not link.checkable]
    assert len(broken) == 1 and "unparseable" in (broken[0].reason or "")
    chinese = next(link for link in result.links if "more" in link.url)
    assert chinese.context == "更多见 https://example.cn/more！"


@pytest.mark.parametrize(("name", "encoding", "host"), [
    ("gbk.txt", "gb18030", "www.mfa.gov.cn"),
    ("big5.txt", "big5", "www.mofa.gov.tw"),
    ("bom.txt", "utf-8-sig", "example.org"),
])
def test_encodings_are_detected(name: str, encoding: str, host: str) -> None:
    result = _extract(name)
    assert result.document.encoding == encoding
    assert result.links[0].host == host
    assert result.links[0].role is (Role.CITATION if host == "example.org"
                                    else Role.PRIMARY_SOURCE)
    assert "\ufffd" not in result.links[0].context


def test_stray_bytes_keep_links_on_both_sides() -> None:
    result = _extract("stray-bytes.txt")
    assert [link.url for link in result.links] == ["https://example.org/before",
                                                   "https://example.org/after"]
    assert result.warnings and "invalid UTF-8" in result.warnings[0]


def test_binary_file_is_refused_by_name() -> None:
    with pytest.raises(SeedError, match=r"image\.html: looks like a PNG image"):
        _extract("image.html")


def test_truncated_html_keeps_what_is_complete() -> None:
    urls = [link.url for link in _extract("truncated.html").links]
    assert "https://example.org/cut" in urls


def test_format_detection_and_override() -> None:
    text = "<p>Hello <a href='https://a.example/'>a</a></p><p>b</p><div>c</div>"
    assert detect_format(text, "x.txt") is SeedFormat.HTML
    assert detect_format("See [x](https://a.example/)", "x.txt") is SeedFormat.MARKDOWN
    assert detect_format("just https://a.example/", "x.txt") is SeedFormat.TEXT
    forced = extract(b"see [x](https://a.example/y)", "x.txt", SeedFormat.TEXT)
    assert [link.url for link in forced.links] == ["https://a.example/y"]


def test_news_export_without_header_falls_back_to_html() -> None:
    result = extract(b"<p><a href='https://a.example/'>x</a></p>", "x.txt",
                     SeedFormat.NEWS_EXPORT)
    assert result.warnings and "no news-export header" in result.warnings[0]
    assert [link.url for link in result.links] == ["https://a.example/"]


def test_ten_thousand_links() -> None:
    body = "".join(f'<p>Item {i}: <a href="https://h{i % 50}.example/p/{i}">x</a>.</p>'
                   for i in range(10_000))
    result = extract(body.encode(), "big.html")
    assert len(result.links) == 10_000
    assert len({link.key for link in result.links}) == 10_000


def test_key_normalisation() -> None:
    a = resolve("HTTPS://Example.ORG:443/a?q=B#frag", None)
    b = resolve("https://example.org/a?q=B", None)
    assert a.key == b.key == "https://example.org/a?q=B"
    assert resolve("http://example.org:8080", None).key == "http://example.org:8080/"
    assert resolve("https://例子.测试/", None).host == "xn--fsqu00a.xn--0zwm56d"
    assert resolve("https://x.example/?b=2&a=1", None).key.endswith("?b=2&a=1")


def test_bare_url_balanced_parentheses() -> None:
    found = [u.url for u in find_bare_urls("(see https://w.example/A_(b)) and https://x.example/a).")]
    assert found == ["https://w.example/A_(b)", "https://x.example/a"]
