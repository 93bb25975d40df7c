"""The web app in Chromium against a live `hexbank serve`: the tasks of shared/UI.md, done the way
a person does them, by accessible names, with the keyboard alone, and on a 360 px phone."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Locator, Page, WebSocketRoute, expect

from tests.live_stack import Client, Server

if TYPE_CHECKING:  # imported by pytest as a plugin: importing it here first would skip its rewrite
    from tests.e2e.browser import WebApp

pytest_plugins = ["tests.e2e.browser"]
pytestmark = pytest.mark.e2e

#: The app retries the socket with backoff: attempts grow seconds apart.
RECONNECT_MS = 30_000
#: More Tab presses than any screen has stops: a control never reached is a failure.
MAX_TABS = 40
SAGA_TIMEOUT_SECONDS = 15
# Notes every text the status region shows, in the page itself (a reload would lose it).
RECORD_STATUS_TEXTS = """() => {
  window.__statusTexts = [];
  const note = () => {
    const text = document.querySelector('[role="status"]')?.textContent.trim() ?? '';
    if (text && window.__statusTexts.at(-1) !== text) window.__statusTexts.push(text);
  };
  note();
  new MutationObserver(note).observe(document.body,
    { subtree: true, childList: true, characterData: true });
}"""


@dataclass
class LiveSocket:
    """Sits on the app's WebSocket (attach before the app connects). It can cut the socket, as
    if the server's socket were unreachable, and hold back the pushes that end a transfer, so a
    test sees `Pending` as long as it wants (on a fast server the saga may end before the POST's
    answer is even rendered). Everything else passes untouched."""

    cut: bool = False
    holding: bool = False
    held: list[str | bytes] = field(default_factory=list)
    _to_page: WebSocketRoute | None = None
    _to_server: WebSocketRoute | None = None

    def attach(self, page: Page) -> LiveSocket:
        page.route_web_socket(re.compile(r"/api/v1/ws$"), self._route)
        return self

    def unreachable(self) -> None:
        """Close the open socket and refuse every new one until `reachable`."""
        self.cut = True
        for side in (self._to_server, self._to_page):
            if side is not None:
                side.close()

    def reachable(self) -> None:
        self.cut = False

    def wait_until_held(self, page: Page) -> None:
        """Until the server has pushed a transfer's end (Playwright delivers it while it waits)."""
        deadline = time.monotonic() + SAGA_TIMEOUT_SECONDS
        while not self.held:
            assert time.monotonic() < deadline, "no transfer ended in time"
            page.wait_for_timeout(50)

    def release(self) -> None:
        assert self._to_page is not None, "the app never opened its WebSocket"
        self.holding = False
        for message in self.held:
            self._to_page.send(message)
        self.held.clear()

    def _route(self, page_side: WebSocketRoute) -> None:
        if self.cut:
            page_side.close()
            return
        self._to_page, self._to_server = page_side, page_side.connect_to_server()
        self._to_server.on_message(self._from_server)

    def _from_server(self, message: str | bytes) -> None:
        if self.holding and ends_a_transfer(message):
            self.held.append(message)
        elif self._to_page is not None:
            self._to_page.send(message)


def ends_a_transfer(message: str | bytes) -> bool:
    push = json.loads(message)
    return bool(push.get("type") == "transfer.updated" and push["data"]["status"] != "pending")


def status_texts(page: Page) -> list[str]:
    """What the status region showed since RECORD_STATUS_TEXTS ran."""
    texts = page.evaluate("() => window.__statusTexts ?? null")
    assert texts is not None, "the page was reloaded: the recording is gone"
    return [str(text) for text in texts]


def new_email() -> str:
    return f"{uuid.uuid4().hex[:12]}@example.com"


def seeded_user(server: Server, balance: int = 10_000) -> tuple[str, str, str]:
    """A user with two EUR accounts through the API: (email, first id, second id)."""
    client = Client(server.url)
    user = client.register()
    first = client.open_account(user, deposit=balance)
    second = client.open_account(user)
    return user.email, first, second


def tab_to(web: WebApp, target: Locator) -> None:
    """Press Tab until `target` has the focus, which must then be visible."""
    for _ in range(MAX_TABS):
        if target.evaluate("el => el === document.activeElement"):
            assert target.evaluate("el => el.matches(':focus-visible')"), "focus is not visible"
            return
        web.page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")


def test_moving_money_between_own_accounts_shows_pending_then_completed(web: WebApp) -> None:
    results = LiveSocket(holding=True).attach(web.page)
    web.register("Ada Lovelace", new_email())
    expect(web.page.get_by_text("Live", exact=True)).to_be_visible()
    web.open_account("Main")
    web.open_account("Savings")
    web.link("Savings").click()
    savings_id = web.account_id()
    web.link("Accounts").click()
    web.link("Main").click()
    web.add_money("100.00")
    expect(web.field("Balance")).to_have_text("€100.00")

    web.button("Move money").click()
    expect(web.heading("Move money")).to_be_visible()
    web.field("To account").fill(savings_id)
    web.field("Amount").fill("30.50")
    web.field("Reference").fill("Rainy day")
    web.button("Review").click()
    web.page.evaluate(RECORD_STATUS_TEXTS)
    web.button("Send").click()

    expect(web.status()).to_have_text("Pending")
    expect(web.page.get_by_text("Available after this transfer: €69.50")).to_be_visible()
    results.wait_until_held(web.page)  # the transfer has ended on the server…
    expect(web.status()).to_have_text("Pending")  # …and only its push tells the app
    results.release()
    expect(web.status()).to_have_text("Completed")
    assert status_texts(web.page) == ["Pending", "Completed"]  # and no reload in between
    expect(web.field("From")).to_contain_text("Main — €69.50 available")
    web.link("Accounts").click()
    expect(web.accounts().filter(has=web.link("Main"))).to_contain_text("€69.50")
    expect(web.accounts().filter(has=web.link("Savings"))).to_contain_text("€30.50")
    web.link("Savings").click()
    expect(web.field("Balance")).to_have_text("€30.50")
    expect(web.field("Available")).to_have_text("€30.50")
    history = web.page.get_by_role("table", name="Transactions")
    expect(history.get_by_role("row").nth(1)).to_contain_text("Transfer in")
    expect(history.get_by_role("row").nth(1)).to_contain_text("Rainy day")
    web.link("Transfers").click()
    expect(web.transfers().first).to_contain_text("Completed")


def test_a_transfer_to_an_unknown_account_shows_why_it_failed(web: WebApp) -> None:
    email, source, _ = seeded_user(web.server)
    web.sign_in(email)

    web.send_money(source, str(uuid.uuid4()), "10")

    expect(web.status()).to_have_text("Failed: no account has that id")
    expect(web.field("From")).to_contain_text("€100.00 available")  # the hold was given back


def test_withdrawing_more_than_available_shows_the_error_at_the_amount(web: WebApp) -> None:
    email, source, _ = seeded_user(web.server)
    web.sign_in(email)
    web.open(f"/accounts/{source}")

    web.button("Withdraw").click()
    web.field("Amount").fill("100.01")
    web.button("Confirm").click()

    amount = web.field("Amount")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(amount).to_have_accessible_description(
        "In EUR. Available: €100.00. That is more than the €100.00 available on this account."
    )
    assert web.requests.count("POST", r"/api/v1/accounts/[^/]+/withdrawals") == 0  # said, not sent
    web.page.keyboard.press("Escape")
    expect(web.field("Balance")).to_have_text("€100.00")


def test_moving_money_with_the_keyboard_alone(web: WebApp) -> None:
    email, _, target = seeded_user(web.server)
    web.open("/signin")
    keyboard = web.page.keyboard

    tab_to(web, web.field("Email"))
    keyboard.type(email)
    tab_to(web, web.field("Password"))
    keyboard.type("correct horse battery")
    keyboard.press("Enter")
    expect(web.heading("Your accounts")).to_be_focused()
    tab_to(web, web.accounts().first.get_by_role("link"))
    keyboard.press("Enter")
    tab_to(web, web.button("Move money"))
    keyboard.press("Enter")
    expect(web.heading("Move money")).to_be_focused()
    tab_to(web, web.field("To account"))
    keyboard.type(target)
    tab_to(web, web.field("Amount"))
    keyboard.type("12.50")
    tab_to(web, web.button("Review"))
    keyboard.press("Enter")
    expect(web.heading("Check and send")).to_be_focused()
    tab_to(web, web.button("Send"))
    keyboard.press("Enter")

    expect(web.status()).to_have_text("Completed")
    expect(web.field("From")).to_contain_text("€87.50 available")


def test_every_screen_fits_a_phone_without_sideways_scrolling(web: WebApp) -> None:
    web.use_phone()
    email, source, target = seeded_user(web.server)
    screens: dict[str, bool] = {}
    web.open("/signin")
    expect(web.button("Sign in")).to_be_visible()
    screens["sign in"] = web.fits_width()
    web.open("/register")
    expect(web.button("Create account")).to_be_visible()
    screens["register"] = web.fits_width()
    web.sign_in(email)
    screens["accounts"] = web.fits_width()
    web.button("Open account").click()
    screens["open account"] = web.fits_width()
    web.page.keyboard.press("Escape")
    web.link("Transfers").click()
    expect(web.heading("Transfers")).to_be_visible()
    screens["transfers (empty)"] = web.fits_width()

    web.send_money(source, target, "1", "A fairly long reference that must wrap on a phone screen")
    expect(web.status()).to_have_text("Completed")
    screens["move money"] = web.fits_width()
    web.link("Transfers").click()
    expect(web.transfers().first).to_contain_text("Completed")
    screens["transfers"] = web.fits_width()
    web.link("Accounts").click()
    web.accounts().first.get_by_role("link").click()
    expect(web.page.get_by_role("table", name="Transactions")).to_contain_text("Transfer out")
    screens["account"] = web.fits_width()
    web.button("Add money").click()
    screens["add money"] = web.fits_width()

    assert screens == dict.fromkeys(screens, True)


def test_offline_while_the_socket_is_unreachable_and_results_still_arrive(web: WebApp) -> None:
    socket = LiveSocket().attach(web.page)
    email, _, target = seeded_user(web.server)
    web.sign_in(email)
    expect(web.page.get_by_text("Live", exact=True)).to_be_visible()

    socket.unreachable()
    expect(web.page.get_by_text("Offline", exact=True)).to_be_visible()
    web.accounts().first.get_by_role("link").click()  # in the app: a reload would reconnect
    web.button("Move money").click()
    web.field("To account").fill(target)
    web.field("Amount").fill("5")
    web.review_and_send()
    expect(web.status()).to_have_text("Completed")  # polled: no push without a socket
    expect(web.field("From")).to_contain_text("€95.00 available")

    socket.reachable()
    expect(web.page.get_by_text("Live", exact=True)).to_be_visible(timeout=RECONNECT_MS)
