"""The wording and URL-shape tables behind core.verdict, and the helpers that only test
text against them: not-found phrases (English and Chinese) with their filler words, bot
challenge titles and body wording, JS-only shells, site/language roots, link shorteners.

All text patterns run on normalise_text() output. Pure data and pure functions; the rules
that weigh this evidence (and their thresholds) stay in core.verdict.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from core.textsim import normalise_text


def _words(text: str) -> list[str]:
    return text.split()


# --- wording ------------------------------------------------------------------------------
# All patterns run on normalise_text() output: case-folded, punctuation turned into spaces
# ("can't" -> "can t"). CJK characters are word characters, hence digit look-arounds, not \b.
NOT_FOUND = re.compile(
    r"(?<![0-9])(?:404|410)(?![0-9])"
    r"|\b(?:not|t|never)\s+(?:be\s+)?found\b|\bcannot\s+be\s+found\b"
    r"|\b(?:cannot|not|t|unable\s+to)\s+find\b"
    r"|\b(?:not|t|no\s+longer)\s+exists?\b"
    r"|\b(?:not|t|no\s+longer)\s+(?:be\s+)?(?:available|here)\b|\bunavailable\b"
    r"|\bnothing\s+(?:was\s+)?(?:found|here)\b|\bno\s+such\s+(?:page|file|article|post)\b"
    r"|\b(?:been\s+)?(?:removed|deleted)\b|\b(?:page|content)\s+(?:is\s+)?missing\b"
    r"|找不到|找不著|未找到|没有找到|沒有找到|无法找到|無法找到|不存在|已被?删除|已被?刪除"
    r"|已下线|已失效|丢失|遺失|走丢|走失"
)
# Words allowed around a not-found phrase. Deliberately excludes what/how/why/fix/errors/
# pages/guide..., so "How to fix 404 errors" or "What is a 404 error?" never match.
FILLER_WORDS = frozenset(
    _words(
        "a an the this that it its is are was were be been has have had may might could can "
        "cannot doesn isn couldn wasn don didn hasn haven won we re ve s t i you your our us "
        "sorry oops whoops uh oh ouch hmm error http status code page file directory resource "
        "document article story post item content video product link url site looking for "
        "requested request seem seems to or and of here there no not anymore moved just right now"
    )
)
FILLER_CJK = sorted(
    _words(
        "很抱歉 抱歉 对不起 對不起 哎呀 糟糕 您要 您 你 访问 訪問 查找 寻找 尋找 找的 要找 "
        "页面 頁面 网页 網頁 链接 鏈接 地址 内容 內容 文章 新闻 新聞 稿件 信息 请求 請求 "
        "错误 錯誤 出错 出錯 该 該 此 这个 這個 所 的 了 或 已 被 可能 呀 哦"
    ),
    key=len,
    reverse=True,  # longest first, so "很抱歉" goes before "抱歉"
)
CHALLENGE_TITLE = re.compile(
    r"just a moment|attention required|access denied|you have been blocked"
    r"|sorry you have been blocked|please wait|one more step|security check|robot check"
    r"|are you a (?:robot|human)|human verification|verify you are (?:a )?human"
    r"|pardon our interruption|checking your browser|ddos guard|captcha"
    r"|百度安全验证|安全验证|人机验证|验证码|访问验证|请稍候"
)
CHALLENGE_TEXT = re.compile(
    r"checking your browser|checking if the site connection is secure"
    r"|verif(?:y|ying) you are (?:a )?human|enable javascript and cookies to continue"
    r"|performance security by cloudflare|cloudflare ray id|incapsula incident id"
    r"|request unsuccessful|you don t have permission to access|captcha|press hold"
    r"|confirm you are a human|not a robot|unusual traffic from your computer network"
    r"|enter the characters you see below|ddos protection by"
    r"|验证码|人机验证|安全验证|异常流量|请完成验证|拖动滑块"
)
JS_SHELL = re.compile(
    r"enable javascript|javascript is (?:required|disabled)|requires javascript"
    r"|turn on javascript|javascript to run this app|启用 ?javascript"
)
# A separator only splits a title where sites put their name: pipes, dashes with spaces,
# underscores (common on Chinese sites), bullets. Never a colon: "404: This page..." stays whole.
# Linear: a match may only start where whitespace starts ((?<!\s)), so a long run of spaces is
# scanned once, not once per space; the last branch is a pipe right after a previous match
# that ended in whitespace ("a | | b"), the one place the unguarded pattern could start.
TITLE_SEPARATOR = re.compile(
    r"(?<!\s)\s+[-:]{1,2}\s+|(?<!\s)\s*[|｜_–—·•»«]+\s*|(?<=\s)[|｜_–—·•»«]+\s*"
)


def is_not_found_phrase(text: str) -> bool:
    """A title segment or heading made only of a not-found phrase plus filler words."""
    norm = normalise_text(text)
    if not norm or not NOT_FOUND.search(norm):
        return False
    rest = NOT_FOUND.sub(" ", norm)
    for token in rest.split():
        if token in FILLER_WORDS:
            continue
        for filler in FILLER_CJK:
            token = token.replace(filler, "")
        if token:
            return False
    return True


def title_candidates(title: str) -> tuple[list[str], list[str]]:
    """(strong, weak): the title whole or minus one end segment; minus more segments."""
    parts = [p for p in TITLE_SEPARATOR.split(title) if p.strip()]
    strong = [title]
    if len(parts) > 1:
        strong += [" ".join(parts[1:]), " ".join(parts[:-1])]
    weak = [" ".join(parts[:i]) for i in range(1, len(parts) - 1)]
    weak += [" ".join(parts[i:]) for i in range(2, len(parts))]
    return strong, weak


# --- URLs ---------------------------------------------------------------------------------
# Language roots and index files count as a site root. Only real language codes: a
# two-letter path such as /ok or /go is an ordinary page.
LANGUAGES = (
    "en|zh|fr|de|es|ja|ko|ru|ar|pt|it|nl|sv|pl|tr|vi|th|id|hi|he|fa|uk|cs|el|da|fi|no|nb"
    "|hu|ro|ms|bg|hr|sk|sl|sr|lt|lv|et|ca|eu|gl|bn|ta|ur|sw|tl|cn|tw|hk"
)
ROOT_PATH = re.compile(
    rf"/(?:(?:{LANGUAGES})(?:[-_][a-z]{{2,4}})?(?:/|$))?"
    r"(?:(?:index|default|home)(?:\.[a-z]{2,5})?/?)?",
    re.IGNORECASE,
)
TRACKING_KEYS = frozenset({"ref", "source", "src", "from", "fbclid", "gclid", "mc_cid", "mc_eid"})
# A shortener's own path is deep by construction; what matters is where it lands.
SHORTENERS = frozenset(
    _words(
        "bit.ly t.co goo.gl tinyurl.com ow.ly buff.ly is.gd j.mp lnkd.in dlvr.it fb.me "
        "amzn.to trib.al wp.me nyti.ms bbc.in reut.rs wapo.st t.cn url.cn dwz.cn"
    )
)
EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}$")
TOKEN = re.compile(r"[A-Za-z0-9-]{1,64}")


def is_root(url: str) -> bool:
    """Site (or language) root, ignoring tracking parameters; "/?p=12" is not a root."""
    parts = urlsplit(url)
    if not ROOT_PATH.fullmatch(parts.path or "/"):
        return False  # a deep path (most links): its query need not be parsed
    keys = [k.lower() for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
    return all(k.startswith("utm_") or k in TRACKING_KEYS for k in keys)
