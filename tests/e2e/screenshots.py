"""`make screenshots`: a PNG of every screen of the web app at 1280 px and at 360 px.

Starts a throwaway embedded deployment, seeds it with `hexbank demo`, signs in as the demo user
in Chromium and saves `frontend/screenshots/<width>/<nn>-<screen>.png`. Run it as
`python -m tests.e2e.screenshots [OUT_DIR]`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, ViewportSize, expect, sync_playwright

from backend.application.demo import DEMO_EMAIL, DEMO_PASSWORD
from tests.e2e.browser import (
    DESKTOP,
    PHONE,
    SETTLE_MS,
    BrowserSetupError,
    WebApp,
    launch,
    new_web_app,
)
from tests.live_stack import HEXBANK, Server, Stack

SIZES = (DESKTOP, PHONE)
DEFAULT_OUT = Path(__file__).resolve().parents[2] / "frontend" / "screenshots"

Step = Callable[[WebApp], None]


def signed_out(web: WebApp) -> None:
    web.open("/signin")
    expect(web.button("Sign in")).to_be_visible()


def register(web: WebApp) -> None:
    web.link("Create an account").click()
    expect(web.button("Create account")).to_be_visible()


def accounts(web: WebApp) -> None:
    web.sign_in(DEMO_EMAIL, DEMO_PASSWORD)
    expect(web.page.get_by_text("Live", exact=True)).to_be_visible()
    expect(web.accounts()).to_have_count(3)


def open_account(web: WebApp) -> None:
    web.button("Open account").click()
    web.field("Account name").fill("Holiday fund")


def account(web: WebApp) -> None:
    web.page.keyboard.press("Escape")
    web.link("Main").click()
    expect(web.page.get_by_role("table", name="Transactions")).to_contain_text("Sold a bike")
    expect(web.button("Load more")).to_be_visible()


def balance_on_a_day(web: WebApp) -> None:
    day = web.page.get_by_role("slider", name="Day shown")
    day.focus()
    for _ in range(12):
        day.press("ArrowLeft")
    web.page.evaluate("window.scrollTo(0, 0)")


def add_money(web: WebApp) -> None:
    web.button("Add money").click()
    web.field("Amount").fill("25.00")


def withdraw_refused(web: WebApp) -> None:
    web.page.keyboard.press("Escape")
    web.button("Withdraw").click()
    web.field("Amount").fill("100000")
    web.button("Confirm").click()
    expect(web.field("Amount")).to_have_attribute("aria-invalid", "true")


def close_account(web: WebApp) -> None:
    web.page.keyboard.press("Escape")
    web.button("Close account").click()
    expect(web.page.get_by_role("dialog")).to_be_visible()


def move_money(web: WebApp) -> None:
    web.page.keyboard.press("Escape")
    web.link("Move money").click()
    main = web.field("From").get_by_role("option").filter(has_text=re.compile("^Main"))
    web.field("From").select_option(main.get_attribute("value"))
    web.field("To account").fill("Savings")
    web.field("Amount").fill("25")
    web.field("Reference").fill("Weekend trip")


def review(web: WebApp) -> None:
    web.button("Review").click()
    expect(web.button("Send")).to_be_visible()


def sent(web: WebApp) -> None:
    web.button("Send").click()
    expect(web.status()).to_have_text("Completed")


def transfers(web: WebApp) -> None:
    web.link("Transfers").click()
    expect(web.transfers().filter(has_text="Trip budget")).to_contain_text("Failed: ")


def transfer(web: WebApp) -> None:
    web.transfers().filter(has_text="Trip budget").get_by_role("link").click()
    expect(web.heading("Transfer")).to_be_visible()


def not_found(web: WebApp) -> None:
    web.open("/no-such-page")
    expect(web.heading("Page not found")).to_be_visible()


SCREENS: list[tuple[str, Step]] = [
    ("sign-in", signed_out),
    ("register", register),
    ("accounts", accounts),
    ("open-account", open_account),
    ("account", account),
    ("balance-on-a-day", balance_on_a_day),
    ("add-money", add_money),
    ("withdraw-refused", withdraw_refused),
    ("close-account", close_account),
    ("move-money", move_money),
    ("move-money-review", review),
    ("move-money-sent", sent),
    ("transfers", transfers),
    ("transfer", transfer),
    ("not-found", not_found),
]


def capture(browser: Browser, server: Server, viewport: ViewportSize, out: Path) -> list[Path]:
    """Walk every screen at `viewport`, saving one full-page PNG each."""
    web = new_web_app(browser, server, viewport)
    folder = out / str(viewport["width"])
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for number, (name, step) in enumerate(SCREENS, start=1):
        step(web)
        path = folder / f"{number:02d}-{name}.png"
        # A modal's backdrop covers the viewport only: show a dialog as the person sees it.
        dialog_open = web.page.get_by_role("dialog").count() > 0
        web.page.screenshot(path=str(path), full_page=not dialog_open)
        if not web.fits_width():
            print(f"warning: {path.name} scrolls sideways at {viewport['width']} px")
        saved.append(path)
    web.page.context.close()
    unexpected = web.console.errors
    if unexpected:
        print(f"warning: console errors at {viewport['width']} px: {unexpected}")
    return saved


def seeded_stack(directory: Path) -> Stack:
    stack = Stack(directory)
    stack.migrate()
    subprocess.run([HEXBANK, "demo"], env=stack.env, check=True, capture_output=True, timeout=120)
    return stack


def main(out: Path = DEFAULT_OUT) -> int:
    started = time.monotonic()
    expect.set_options(timeout=SETTLE_MS)
    with tempfile.TemporaryDirectory(prefix="hexbank-screenshots-") as directory:
        stack = seeded_stack(Path(directory))
        try:
            server = stack.serve()
            with sync_playwright() as playwright:
                browser = launch(playwright)
                saved = [p for size in SIZES for p in capture(browser, server, size, out)]
                browser.close()
        finally:
            stack.stop()
    print(f"saved {len(saved)} screenshots in {out} ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT))
    except BrowserSetupError as problem:
        sys.exit(str(problem))
