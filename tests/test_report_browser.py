"""The HTML report in a real browser: Debian's chromium driven by Playwright.

The page is opened from a file with every other request refused and counted, so "no
network fetches" is tested, not assumed. Screenshots (desktop, phone, print) are written
to the test's tmp dir, and also to $ROTWATCH_ARTIFACTS when set (CI keeps them).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from archive.store import Store
from rotwatch.report import build_report, render_html
from tests.report_fixture import NOW, URLS, build

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs Debian's chromium at /usr/bin/chromium "
                                       "(apt-get install -y chromium; .ci/run does)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    fx = build(tmp)
    with Store(fx.db_path) as st:
        page = render_html(build_report(st, NOW, zone=ZoneInfo("Europe/Berlin"),
                                        timezone="Europe/Berlin"))
    path = tmp / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


class Visit:
    """One page load with console errors and refused requests recorded."""

    def __init__(self, browser: Any, path: Path, **context: Any) -> None:
        self.context = browser.new_context(**context)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.fetched: list[str] = []
        self.page.on("console",
                     lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.route("**/*", self._route)
        self.page.goto(path.as_uri())

    def _route(self, route: Any) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:  # the page must not reach out for anything
            self.fetched.append(route.request.url)
            route.abort()

    def shot(self, path: Path, **kw: Any) -> Path:
        self.page.screenshot(path=str(path), **kw)
        assert path.stat().st_size > 1000
        keep = os.environ.get("ROTWATCH_ARTIFACTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(keep) / path.name)
        return path

    def close(self) -> None:
        self.context.close()


def test_report_renders_problems_fixes_and_strips(browser: Any, report_file: Path,
                                                   tmp_path: Path) -> None:
    visit = Visit(browser, report_file, viewport={"width": 1280, "height": 900})
    page = visit.page
    try:
        assert visit.errors == [] and visit.fetched == []
        cards = page.locator("li.link")
        assert cards.count() == 7
        dead = page.locator("li.link.dead").first
        assert dead.locator(f'a[href="{URLS["gone"]}"]').count() + dead.locator(
            f'a[href="{URLS["dead"]}"]').count() == 1
        assert "dead for 12 days" in dead.inner_text()
        moved = page.locator("li.link.moved")
        fix = moved.locator("p.fix")
        assert fix.is_visible() and fix.locator(f'a[href="{URLS["moved-new"]}"]').count() == 1
        assert "source: redirect" in fix.inner_text() and "source: rotwatch" in fix.inner_text()
        strips = page.locator("svg.strip")
        assert strips.count() == 7
        box = strips.first.bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0
        # One rectangle per run of equal verdicts: dead, gone, failing and refused end failing.
        assert page.locator("svg.strip rect.c-failure").count() == 4
        assert page.locator("svg.chart rect.c-failure").count() == 4  # one bar per run
        assert page.locator("table.hosts tr").count() >= 2
        # Technical detail is one click away.
        tech = dead.locator("dl.tech")
        assert not tech.is_visible()
        dead.locator("summary").click()
        assert tech.is_visible() and "HTTP status" in tech.inner_text()
        assert page.locator('h2[lang="zh"]').count() == 1
        visit.shot(tmp_path / "report-desktop.png", full_page=True)
    finally:
        visit.close()


def test_report_fits_a_phone_and_prints(browser: Any, report_file: Path,
                                        tmp_path: Path) -> None:
    visit = Visit(browser, report_file, viewport={"width": 390, "height": 844},
                  device_scale_factor=2, is_mobile=True, has_touch=True)
    page = visit.page
    try:
        assert visit.errors == [] and visit.fetched == []
        # Nothing wider than the screen: no sideways scrolling on a phone.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        visit.shot(tmp_path / "report-phone.png")
        page.emulate_media(media="print")
        # On paper the technical detail is printed without a click, and URLs are written out.
        assert page.locator("li.link.dead dl.tech").first.is_visible()
        after = page.evaluate("getComputedStyle(document.querySelector('li.link a'), "
                              "'::after').content")
        assert "http" in after or "attr(href)" in after
        visit.shot(tmp_path / "report-print.png", full_page=True)
        assert visit.errors == []
    finally:
        visit.close()
