"""The search page in headless Chromium (Debian's browser driven by Playwright).

Usage: page_test.py BASE_URL ARTEFACT_DIR
Types a query, sees results, filters by a role chip, goes back, opens the compare view,
follows "did you mean", opens a passage with the keyboard, checks a phone-width layout, and
saves screenshots in ARTEFACT_DIR. Exits non-zero with a message on the first failure.
"""

import os
import re
import sys
import tempfile
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect, sync_playwright

BASE, ARTEFACTS = sys.argv[1].rstrip("/"), sys.argv[2]
CHROMIUM = os.environ.get("RSEARCH_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def params(page):
    return parse_qs(urlparse(page.url).query)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def main():
    os.makedirs(ARTEFACTS, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
            viewport={"width": 1200, "height": 820},
        )
        page = context.new_page()
        problems = []
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.set_default_timeout(10_000)

        # Type a query letter by letter: results appear while the last word is unfinished.
        page.goto(BASE + "/")
        box = page.get_by_label("Search passages")
        expect(box).to_be_focused()
        box.press_sequentially("market resea", delay=40)
        hits = page.locator("#results .hit")
        expect(hits.first).to_be_visible()
        expect(page.locator("#results mark", has_text="research").first).to_be_visible()
        expect(page.locator("#status")).to_contain_text("passages")
        check(params(page).get("q") == ["market resea"], f"query not in the URL: {page.url}")
        first = hits.first
        expect(first.locator(".rank")).to_have_text("1.")
        expect(first.locator(".crumb")).to_contain_text("›")
        box.press_sequentially("rch")
        expect(page).to_have_url(re.compile(r"q=market\+research"))
        # The highlight is built from byte ranges: the marked text is exactly a matched word.
        marks = page.locator("#results mark").all_inner_texts()
        check(marks and all(m.lower().startswith(("market", "research")) for m in marks), f"marks: {marks}")
        page.screenshot(path=os.path.join(ARTEFACTS, "screenshot.png"))

        # A role chip filters, shows as pressed, and lands in the URL; back undoes it.
        total_before = page.locator("#status").inner_text()
        chip = page.locator("#facet-roles button.chip[data-slug='ceo']")
        chip.click()
        expect(chip).to_have_attribute("aria-pressed", "true")
        expect(page).to_have_url(re.compile(r"role=ceo"))
        expect(page.locator("#status")).not_to_have_text(total_before)
        for labels in page.locator("#results .hit .labels").all_inner_texts():
            check("CEO" in labels, f"a hit without the CEO label after filtering: {labels}")
        page.go_back()
        expect(page).to_have_url(re.compile(r"^[^#]*\?q=market\+research$"))
        expect(page.locator("#facet-roles button.chip[data-slug='ceo']")).to_have_attribute("aria-pressed", "false")
        expect(page.locator("#status")).to_have_text(total_before)

        # Compare roles: one column per role, side by side.
        page.get_by_role("button", name="Compare roles").click()
        columns = page.locator("#columns .column")
        expect(columns).to_have_count(3)
        expect(columns.nth(0).locator("h2")).to_have_text("Product Manager")
        expect(columns.nth(2).locator("h2")).to_have_text("CTO")
        check(params(page).get("view") == ["compare"], f"view not in the URL: {page.url}")
        boxes = [columns.nth(i).bounding_box() for i in range(3)]
        check(abs(boxes[0]["y"] - boxes[2]["y"]) < 2, f"columns not side by side: {boxes}")
        page.screenshot(path=os.path.join(ARTEFACTS, "screenshot-compare.png"))
        page.get_by_role("button", name="Compare roles").click()
        expect(columns).to_have_count(0)

        # "Did you mean" is a link that runs the corrected search.
        box.fill("cybersecurty ")
        link = page.locator("#dym-link")
        expect(link).to_have_text("cybersecurity")
        link.click()
        expect(box).to_have_value("cybersecurity")
        expect(page.locator("#results mark", has_text="cybersecurity").first).to_be_visible()
        expect(page.locator("#dym")).to_be_hidden()

        # Keyboard: "/" focuses the box, arrows move through results, Enter opens a passage in
        # its context; Escape closes it and the URL follows.
        box.blur()
        expect(box).not_to_be_focused()
        page.keyboard.press("/")
        expect(box).to_be_focused()
        page.keyboard.press("ArrowDown")
        expect(page.locator("#results .hit > a").first).to_be_focused()
        page.keyboard.press("Enter")
        dialog = page.locator("#passage")
        expect(dialog).to_be_visible()
        expect(dialog.locator(".ctx.current")).to_contain_text("cybersecurity")
        expect(dialog.locator(".ctx")).to_have_count(5)
        check(params(page).get("open"), f"passage not in the URL: {page.url}")
        page.screenshot(path=os.path.join(ARTEFACTS, "screenshot-passage.png"))
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(page).to_have_url(re.compile(r"^[^#]*\?q=cybersecurity$"))
        expect(page.locator("#results .hit > a").first).to_be_focused()

        # A shared URL opens the same search.
        shared = page.url
        other = context.new_page()
        other.goto(shared)
        expect(other.locator("#results .hit").first).to_contain_text("cybersecurity")
        other.close()

        # Phone width: nothing wider than the screen.
        page.set_viewport_size({"width": 375, "height": 740})
        box.fill("board of directors")
        expect(page.locator("#results mark", has_text="board").first).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        check(overflow <= 0, f"the page is {overflow}px wider than a phone screen")
        page.screenshot(path=os.path.join(ARTEFACTS, "screenshot-phone.png"))

        check(not problems, f"errors in the page: {problems}")
        context.close()
    print("browser test passed; screenshots in", ARTEFACTS)


if __name__ == "__main__":
    main()
