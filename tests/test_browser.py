"""Browser test of the built HTML book (headless Chromium driven by Playwright).

Run by the test command after its own build of the book (``$REPROLIB_TEST_HTML``, by default
``_build/test/_build/html``; never the reader's ``_build/html``, unless pointed there); skipped, with the reason, when
Playwright or Chromium is missing (Debian: ``apt-get install chromium``). The browser runs with the network
cut: DNS resolves nothing and every request that is not a local file is aborted and reported, so a page
that needs a CDN fails here.

For every page in the table of contents it checks that the page loads without console errors, page
errors, failed requests or broken images, that its equations were typeset by the bundled MathJax, and it
writes a full-page screenshot to ``screenshots/`` for a person to look at. Every static demo
(``.reprolib-demo``) must respond to each of its controls: after the control is moved, the demo's
pictures change.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("REPROLIB_TEST_HTML") or ROOT / "_build" / "test" / "_build" / "html")
SHOTS = ROOT / "screenshots"


def _toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        for ch in part.get("chapters", []):
            pages.append(ch["file"])
            pages += [s["file"] for s in ch.get("sections", [])]
    return pages


def _chromium() -> str | None:
    for cand in (os.environ.get("REPROLIB_CHROMIUM"), "/usr/lib/chromium/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if cand and Path(cand).exists():
            return cand
    return None


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
    exe = _chromium()
    if exe is None:
        pytest.skip("Chromium not found: install it (Debian: apt-get install chromium) or set REPROLIB_CHROMIUM")
    if not (HTML / "index.html").exists():
        pytest.fail(f"no built book in {HTML}; build it first (the test command's build step), or point "
                    "REPROLIB_TEST_HTML at a built book's html folder")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=exe,
            args=["--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND",
                  "--disable-background-networking", "--no-first-run"],
        )
        yield b
        b.close()


class PageReport:
    def __init__(self, page):
        self.errors: list[str] = []
        self.outside: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url} ({r.failure})"))

        def route(r):
            if r.request.url.startswith(("file:", "data:", "blob:", "about:")):
                r.continue_()
            else:
                self.outside.append(r.request.url)
                r.abort()

        page.route("**/*", route)


def _open(browser, rel: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    report = PageReport(page)
    page.goto((HTML / rel).as_uri(), wait_until="load")
    page.wait_for_timeout(300)
    # MathJax typesets asynchronously; wait for it where it is loaded.
    page.wait_for_function("() => !window.MathJax || !MathJax.startup || MathJax.startup.promise !== undefined", timeout=10000)
    page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise ? MathJax.startup.promise : null")
    return page, report


@pytest.mark.parametrize("doc", _toc_pages())
def test_page_loads_cleanly_offline(browser, doc):
    rel = doc + ".html"
    assert (HTML / rel).exists(), f"{rel} is in _toc.yml but was not built"
    page, report = _open(browser, rel)
    try:
        broken = page.evaluate(
            "() => Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src.slice(0, 120))")
        math_nodes = page.evaluate("() => document.querySelectorAll('.math, div.math, span.math').length")
        typeset = page.evaluate("() => document.querySelectorAll('mjx-container').length")
        merrors = page.evaluate("() => document.querySelectorAll('mjx-merror').length")
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / (doc.replace("/", "_") + ".png")), full_page=True)
    finally:
        page.close()
    assert not report.outside, f"{rel} tried to reach the network: {report.outside}"
    assert not report.errors, f"{rel}: " + "; ".join(report.errors)
    assert not broken, f"{rel}: images that did not load: {broken}"
    if math_nodes:
        assert typeset >= 1, f"{rel} has {math_nodes} equations but MathJax typeset none"
    assert merrors == 0, f"{rel}: {merrors} equations failed to typeset"


def _demo_pages() -> list[str]:
    found = []
    for doc in _toc_pages():
        path = HTML / (doc + ".html")
        if path.exists() and "reprolib-demo" in path.read_text(encoding="utf-8", errors="ignore"):
            found.append(doc)
    return found


_SNAPSHOT = """(demo) => JSON.stringify({
  imgs: Array.from(demo.querySelectorAll('img')).map(i => i.getAttribute('src')),
  text: Array.from(demo.querySelectorAll('[data-reprolib-role=value], [data-reprolib-role=caption]')).map(e => e.textContent),
  state: demo.getAttribute('data-reprolib-index')})"""

_ACT = """(control) => {
  const tag = control.tagName.toLowerCase();
  if (tag === 'input' && control.type === 'range') {
    const lo = Number(control.min || 0), hi = Number(control.max || 100), v = Number(control.value);
    control.value = String(v === hi ? lo : hi);
    control.dispatchEvent(new Event('input', {bubbles: true}));
    control.dispatchEvent(new Event('change', {bubbles: true}));
  } else if (tag === 'select') {
    control.selectedIndex = (control.selectedIndex + 1) % control.options.length;
    control.dispatchEvent(new Event('change', {bubbles: true}));
  } else {
    control.click();
  }
}"""


@pytest.mark.parametrize("doc", _demo_pages() or ["(no page with a static demo)"])
def test_static_demos_respond(browser, doc):
    if doc.startswith("("):
        pytest.fail("no built page contains a static demo (.reprolib-demo); the chapters should have at least one")
    page, report = _open(browser, doc + ".html")
    try:
        demos = page.query_selector_all(".reprolib-demo")
        assert demos, f"{doc}: no .reprolib-demo element"
        for k, demo in enumerate(demos):
            controls = demo.query_selector_all("[data-reprolib-role=slider], [data-reprolib-role=select], [data-reprolib-role=button]")
            assert controls, f"{doc}: demo {k} has no control"
            for control in controls:
                before = page.evaluate(_SNAPSHOT, demo)
                page.evaluate(_ACT, control)
                page.wait_for_timeout(50)
                after = page.evaluate(_SNAPSHOT, demo)
                b, a = json.loads(before), json.loads(after)
                # the pictures themselves must change, not only a label
                changed = a["imgs"] != b["imgs"] if b["imgs"] else a != b
                assert changed, f"{doc}: demo {k} did not change its pictures when its control was moved"
    finally:
        page.close()
    assert not report.errors, f"{doc}: " + "; ".join(report.errors)
