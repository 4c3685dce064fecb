"""The built HTML book reads offline: math typeset, figures loaded, widgets shown, no request failed.

Run with `make test-browser` after `make book`. Needs Debian's `chromium` and
`chromium-driver` (.ci/run installs them). The book is served from _build/html on a
localhost port; any request that fails, or that leaves localhost, fails the test.
Screenshots are written to _build/screenshots/.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# PGNOTES_BOOK_HTML: a book built elsewhere (jupyter-book build . --path-output DIR -> DIR/_build/html)
HTML = Path(os.environ.get("PGNOTES_BOOK_HTML", ROOT / "_build" / "html")).resolve()
SHOTS = HTML.parent / "screenshots"
CHAPTER_ONE = "book/ch01_log_derivative_trick.html"

pytestmark = pytest.mark.browser


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    if not (HTML / CHAPTER_ONE).exists():
        pytest.fail(f"{HTML / CHAPTER_ONE} is missing: run `make book` first")
    handler = functools.partial(QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail("headless Chromium is needed: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1600", "--hide-scrollbars"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def network_problems(driver, origin: str) -> list[str]:
    """Failed requests, HTTP errors and requests that left localhost, from Chrome's performance log."""
    problems, urls = [], {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        method, params = message.get("method"), message.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            urls[params["requestId"]] = url
            if not url.startswith((origin, "data:", "blob:", "about:")):
                problems.append(f"request left localhost: {url}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            problems.append(f"failed: {urls.get(params['requestId'], '?')} ({params.get('errorText')})")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            problems.append(f"HTTP {params['response']['status']}: {params['response']['url']}")
    return problems


def open_page(driver, url: str) -> None:
    driver.get(url)
    driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        const hasMath = !!document.querySelector('script[src*="mathjax"]');
        const wait = () => {
            if (document.readyState !== 'complete') return setTimeout(wait, 100);
            if (!hasMath) return done(true);
            if (window.MathJax && MathJax.startup && MathJax.startup.promise)
                return MathJax.startup.promise.then(() => done(true));
            setTimeout(wait, 100);
        };
        wait();"""
    )


def test_chapter_one_reads_offline(server, browser):
    browser.get_log("performance")  # drop anything earlier
    open_page(browser, f"{server}/{CHAPTER_ONE}")
    rendered = browser.execute_script("return document.querySelectorAll('mjx-container').length")
    assert rendered >= 10, f"only {rendered} MathJax-rendered elements on chapter 1"
    # prose only: printed source code and outputs (<pre>) may legitimately show TeX
    text = browser.execute_script("""const main = document.querySelector('main, article, body').cloneNode(true);
        main.querySelectorAll('pre, code').forEach(n => n.remove());
        return main.innerText;""")
    for raw in ("\\(", "\\[", "$$", "\\frac", "\\nabla"):
        assert raw not in text, f"raw TeX {raw!r} left in the visible text"

    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.src, i.complete && i.naturalWidth > 0])")
    figures = [src for src, ok in images if "_images" in src or src.startswith("data:image")]
    assert len(figures) >= 2, f"expected the chapter's figures, found images {images}"
    assert all(ok for _, ok in images), f"images that did not load: {[s for s, ok in images if not ok]}"

    browser.execute_script("""const w = document.querySelector('.jupyter-widgets, .widget-interact, .widget-slider');
        if (w) w.scrollIntoView();""")
    widgets = browser.execute_async_script(
        """const done = arguments[arguments.length - 1]; let tries = 0;
        const look = () => { const n = document.querySelectorAll('.widget-slider, .jupyter-widgets .widget-hslider').length;
            if (n > 0 || tries++ > 100) done(n); else setTimeout(look, 100); };
        look();""")
    assert widgets >= 3, f"the slider widgets did not render (found {widgets})"
    widget_images = browser.execute_script(
        "return Array.from(document.querySelectorAll('.jupyter-widgets img, .widget-output img')).filter(i => i.naturalWidth > 0).length")
    assert widget_images >= 1, "the interactive figure's static default did not render"

    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / "ch01_widget.png"))
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(SHOTS / "ch01_top.png"))
    problems = network_problems(browser, server)
    assert not problems, "\n".join(problems)
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, "\n".join(severe)


def test_every_page_loads_without_failed_requests(server, browser):
    pages = sorted(p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html")
                   if not p.relative_to(HTML).as_posix().startswith(("_", "genindex", "search")))
    assert pages
    browser.get_log("performance")
    bad = {}
    for page in pages:
        open_page(browser, f"{server}/{page}")
        problems = network_problems(browser, server)
        if problems:
            bad[page] = problems
    assert not bad, json.dumps(bad, indent=1)


def _chapter_and_exercise_pages() -> list[str]:
    return sorted(p.relative_to(HTML).as_posix() for folder in ("book", "exercises") for p in (HTML / folder).glob("*.html")
                  if p.stem.startswith(("ch", "appendix")))


def test_math_typesets_without_errors_on_every_chapter_and_exercise(server, browser):
    """No MathJax error box (``mjx-merror``, e.g. "\\tag not allowed in split environment") on any
    chapter or exercise page, and every chapter page has typeset math."""
    pages = _chapter_and_exercise_pages()
    assert any(p.startswith("book/ch") for p in pages) and any(p.startswith("exercises/") for p in pages), pages
    errors, no_math = {}, []
    for page in pages:
        open_page(browser, f"{server}/{page}")
        found = browser.execute_script("""return {
            errors: Array.from(document.querySelectorAll('mjx-merror')).map(e => e.getAttribute('data-mjx-error') || e.textContent),
            math: document.querySelectorAll('mjx-container').length}""")
        if found["errors"]:
            errors[page] = found["errors"]
        if page.startswith("book/ch") and found["math"] == 0:
            no_math.append(page)
    assert not errors, "MathJax errors: " + json.dumps(errors, indent=1, ensure_ascii=False)
    assert not no_math, f"chapter pages with no typeset math: {no_math}"


def test_trained_agents_play_in_chapter_two(server, browser):
    """The animations of the trained CartPole and Pendulum agents load their frames offline."""
    page = "book/ch02b_reinforce_in_practice.html"
    if not (HTML / page).exists():
        pytest.fail(f"{HTML / page} is missing")
    open_page(browser, f"{server}/{page}")
    frames = browser.execute_async_script(
        """const done = arguments[arguments.length - 1]; let tries = 0;
        const look = () => {
            const imgs = Array.from(document.querySelectorAll('.animation img'));
            const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
            if ((imgs.length >= 2 && ok === imgs.length) || tries++ > 100) done([imgs.length, ok]); else setTimeout(look, 100);
        };
        look();""")
    assert frames[0] >= 2 and frames[1] == frames[0], f"animations: {frames[0]} found, {frames[1]} with a loaded frame"
    buttons = browser.execute_script("return document.querySelectorAll('.animation button').length")
    assert buttons >= 2, "the animations' play controls are missing"
    browser.execute_script("document.querySelector('.animation').scrollIntoView()")
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / "ch02b_agent.png"))
