"""axe-core on every screen of the web app, at 1280 and at 360 px: no WCAG 2.1 A/AA violation,
nothing scrolls sideways on a phone, and no console error on the way."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.e2e.test_web_app_additions import seeded_user

if TYPE_CHECKING:
    from tests.e2e.browser import WebApp

pytest_plugins = ["tests.e2e.browser"]
pytestmark = pytest.mark.e2e

Step = Callable[["WebApp"], None]


def screens(email: str, source: str, target: str) -> list[tuple[str, Step]]:
    """Each screen (and each dialog or step of one), reached from the one before."""

    def dialog(name: str) -> Step:
        def open_it(web: WebApp) -> None:
            web.page.keyboard.press("Escape")
            web.button(name).click()
            expect(web.page.get_by_role("dialog")).to_be_visible()

        return open_it

    def move_money(web: WebApp) -> None:
        web.page.keyboard.press("Escape")
        web.link("Move money").click()
        web.field("From").select_option(source)
        web.field("To account").fill(target)
        web.field("Amount").fill("1000")
        web.button("Review").click()  # a field error on screen
        expect(web.field("Amount")).to_have_attribute("aria-invalid", "true")

    def review(web: WebApp) -> None:
        web.field("Amount").fill("10")
        web.button("Review").click()
        expect(web.button("Send")).to_be_visible()

    def sent(web: WebApp) -> None:
        web.button("Send").click()
        expect(web.status()).to_have_text("Completed")

    def transfer(web: WebApp) -> None:
        web.transfers().first.get_by_role("link").click()
        expect(web.heading("Transfer")).to_be_visible()

    return [
        ("sign in", lambda web: web.open("/signin")),
        ("register", lambda web: web.link("Create an account").click()),
        ("accounts", lambda web: web.sign_in(email)),
        ("open account", dialog("Open account")),
        ("account", lambda web: (web.page.keyboard.press("Escape"), web.link("Everyday").click())),
        ("add money", dialog("Add money")),
        ("withdraw", dialog("Withdraw")),
        ("close account", dialog("Close account")),
        ("move money", move_money),
        ("review", review),
        ("sent", sent),
        ("transfers", lambda web: web.link("Transfers").click()),
        ("transfer", transfer),
        ("not found", lambda web: web.open("/no-such-page")),
    ]


def test_every_screen_passes_axe_and_fits(sized_web: WebApp) -> None:
    web = sized_web
    email, source, target = seeded_user(web.server)
    found: dict[str, list[str]] = {}
    sideways: list[str] = []
    for name, step in screens(email, source, target):
        step(web)
        expect(web.page.locator("main h1").first).to_be_visible()
        found[name] = web.axe_violations()
        if not web.fits_width():
            sideways.append(name)
    assert {name: lines for name, lines in found.items() if lines} == {}
    assert sideways == []
