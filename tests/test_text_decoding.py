"""The one decoder from bytes to text: its precedence, and the same answer for every caller.

Seeds (crawler.extract.links), the crawl's page facts (crawler.fetch.content, what the
verdict reads) and the drift check's main text (rotwatch.drift) all decode with
core.text_decoding; these tests pin the order BOM > transport charset > in-document
declaration > UTF-8 > sniffed > cp1252 and the cases where the old decoders disagreed.
"""

from __future__ import annotations

import codecs

import pytest

from core.text_decoding import (
    DECISION_BYTES,
    EncodingSource,
    binary_reason,
    choose_encoding,
    codec_name,
    decode_text,
)
from crawler.fetch.content import page_facts
from rotwatch.drift import extract_main_text

ZH = "各区县要按时完成农村饮用水水质检测，发现问题立即报告并督促整改。"
TW = "市區公車路網將於明年元旦起調整，市民可查詢新路線與班次。"


def _page(body: str, head: str = "") -> str:
    return (f"<html><head>{head}<title>通知</title></head>"
            f"<body><h1>公告</h1><p>{body}</p></body></html>")


# --- precedence -------------------------------------------------------------------------------
def test_bom_beats_transport_and_declaration() -> None:
    raw = codecs.BOM_UTF8 + _page(ZH, '<meta charset="gbk">').encode()
    decoded = decode_text(raw, "big5")
    assert (decoded.encoding, decoded.source) == ("utf-8-sig", EncodingSource.BOM)
    assert ZH in decoded.text and not decoded.text.startswith("\ufeff")


def test_transport_beats_declaration() -> None:
    raw = _page(ZH, '<meta charset="utf-8">').encode("gbk")
    assert choose_encoding(raw, "gbk") == ("gb18030", EncodingSource.TRANSPORT)


def test_declaration_beats_sniffing() -> None:
    raw = _page(TW, '<meta charset="big5">').encode("big5")
    assert choose_encoding(raw) == ("big5hkscs", EncodingSource.DOCUMENT)
    xml = f'<?xml version="1.0" encoding="GB2312"?><p>{ZH}</p>'.encode("gb2312")
    assert choose_encoding(xml) == ("gb18030", EncodingSource.DOCUMENT)


def test_undeclared_utf8_then_sniffed_then_cp1252() -> None:
    assert choose_encoding(_page(ZH).encode()) == ("utf-8", EncodingSource.SNIFFED)
    assert choose_encoding(_page(ZH).encode("gb18030")) == ("gb18030", EncodingSource.SNIFFED)
    assert choose_encoding(_page(TW).encode("big5")) == ("big5", EncodingSource.SNIFFED)
    assert choose_encoding(b"price 10\x80 only") == ("cp1252", EncodingSource.SNIFFED)
    cyrillic = "Привет, как дела? Это тест кодировки.".encode("cp1251")
    assert choose_encoding(cyrillic) == ("cp1251", EncodingSource.SNIFFED)
    # Nothing explains a lone undefined byte between ASCII words: the browsers' fallback.
    assert choose_encoding(b"ab \x81 cd") == ("cp1252", EncodingSource.FALLBACK)


def test_a_declaration_that_does_not_fit_the_bytes_is_skipped() -> None:
    mislabelled = _page(ZH, '<meta charset="utf-8">').encode("gbk")
    assert choose_encoding(mislabelled) == ("gb18030", EncodingSource.SNIFFED)
    assert choose_encoding(mislabelled, "utf-8") == ("gb18030", EncodingSource.SNIFFED)


def test_a_multibyte_declaration_tolerates_a_stray_byte() -> None:
    raw = _page(ZH * 3).encode("gbk").replace("督".encode("gbk"), b"\xff", 1)
    decoded = decode_text(raw, "gbk")
    assert (decoded.encoding, decoded.source, decoded.replaced) == (
        "gb18030", EncodingSource.TRANSPORT, True)
    assert decoded.label == "gb18030 (with invalid bytes replaced)"


def test_utf8_declared_as_latin1_by_a_server_default_is_read_as_utf8() -> None:
    # cp1252 leaves five bytes undefined: a single-byte declaration must read every byte.
    raw = _page("东京奥运会，汉语拼音。" * 20).encode()
    assert choose_encoding(raw, "ISO-8859-1") == ("utf-8", EncodingSource.SNIFFED)
    assert choose_encoding(b"caf\xe9 au lait", "iso-8859-1") == (
        "cp1252", EncodingSource.TRANSPORT)


@pytest.mark.parametrize(("label", "codec"), [
    ("GB2312", "gb18030"), ("gbk", "gb18030"), ("big5", "big5hkscs"), ("latin1", "cp1252"),
    (' "UTF-8" ', "utf-8"), ("utf-7", None), ("base64", None), ("rot13", None),
    ("no-such-charset", None), ("", None), (None, None),
])
def test_labels_map_to_browser_codecs(label: str | None, codec: str | None) -> None:
    assert codec_name(label) == codec


def test_a_document_declaring_utf16_in_ascii_is_utf8() -> None:
    raw = f'<meta charset="utf-16"><p>{ZH}</p>'.encode()
    assert choose_encoding(raw) == ("utf-8", EncodingSource.DOCUMENT)


def test_utf16_without_bom_is_told_by_its_nuls() -> None:
    raw = _page(ZH).encode("utf-16-le")
    assert choose_encoding(raw) == ("utf-16-le", EncodingSource.SNIFFED)
    assert binary_reason(raw) is None


def test_stray_utf16_bom_in_front_of_utf8_is_not_a_bom() -> None:
    decoded = decode_text(b"\xff\xfe" + _page(ZH).encode())
    assert (decoded.encoding, decoded.replaced) == ("utf-8", True)
    assert ZH in decoded.text


# --- limits: the decision is made on a bounded head, the cut is clean --------------------------
def test_limit_drops_a_character_cut_in_half() -> None:
    raw = ("中" * 10).encode()
    decoded = decode_text(raw, "utf-8", limit=7)
    assert (decoded.text, decoded.replaced) == ("中" * 2, False)


def test_the_decision_reads_only_the_head() -> None:
    head = _page(ZH).encode("gbk")
    # Past the decision window, bytes no longer change the answer.
    tail = b" " * DECISION_BYTES + "尾".encode()
    assert choose_encoding(head + tail) == choose_encoding(head) == (
        "gb18030", EncodingSource.SNIFFED)


def test_a_long_ascii_head_does_not_hide_the_encoding() -> None:
    raw = b"<script>" + b"var a = 1;\n" * 20_000 + b"</script>" + _page(ZH).encode("gbk")
    assert choose_encoding(raw) == ("gb18030", EncodingSource.SNIFFED)


# --- binary ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("data", "reason"), [
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "looks like a PNG image"),
    (b"%PDF-1.7\n", "looks like a PDF document"),
    (b"x" * 50 + bytes(50), "contains NUL bytes, looks binary"),
    (bytes(range(1, 9)) * 20, "mostly control bytes, looks binary"),
    (b"plain text", None),
])
def test_binary_reason(data: bytes, reason: str | None) -> None:
    assert binary_reason(data) == reason


# --- one answer everywhere: the verdict's text and the drift text ----------------------------
@pytest.mark.parametrize(("raw", "header"), [
    (_page(ZH * 4).encode("gbk"), None),  # undeclared GBK: lxml alone read it as Latin-1
    (_page(ZH * 4).encode("gbk"), "gbk"),
    (_page(TW * 4, '<meta charset="big5">').encode("big5"), None),
    (_page(ZH * 4, '<meta charset="utf-8">').encode("gbk"), None),  # mislabelled
    (b'<?xml version="1.0" encoding="utf-8"?>' + _page(ZH * 4).encode(), None),
])
def test_page_facts_and_drift_read_the_same_text(raw: bytes, header: str | None) -> None:
    content_type = "text/html" + (f"; charset={header}" if header else "")
    facts = page_facts(raw, content_type, header)
    main = extract_main_text(raw, encoding=header)
    assert facts.title == "通知" and facts.heading == "公告"
    expected = TW if "big5" in raw.decode("ascii", "ignore") else ZH
    assert expected in facts.text and expected in main.text
    assert "\ufffd" not in facts.text + main.text


def test_plain_text_pages_are_decoded_by_the_same_rules() -> None:
    raw = (ZH * 3).encode("gb18030")
    assert ZH in page_facts(raw, "text/plain", None).text
