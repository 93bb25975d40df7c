"""The web app's additions (shared/UI.md "Additions") and the nine findings of its review, in
Chromium at 1280 and at 360 px, by accessible names."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.live_stack import PASSWORD, Client, Server

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser

    from tests.e2e.browser import WebApp

pytest_plugins = ["tests.e2e.browser"]
pytestmark = pytest.mark.e2e

TRANSFERS_POSTED = ("POST", r"/api/v1/transfers")


def seeded_user(server: Server) -> tuple[str, str, str]:
    """A user with "Everyday" (€100.00) and an empty "Savings": (email, everyday, savings)."""
    client = Client(server.url)
    user = client.register()
    ids = []
    for name in ("Everyday", "Savings"):
        body = {"name": name, "currency": "EUR"}
        ids.append(client.expect(201, "POST", "/accounts", user, json=body)["id"])
    client.expect(201, "POST", f"/accounts/{ids[0]}/deposits", user, json={"amount": 10_000})
    return user.email, ids[0], ids[1]


@pytest.fixture
def browser_for_locale(browser: Browser, web_server: Server) -> Iterator[WebApp]:
    """A German-speaking browser (de-DE), desktop sized."""
    from tests.e2e.browser import new_web_app

    app = new_web_app(browser, web_server, locale="de-DE")
    yield app
    app.page.context.close()
    assert app.console.unexpected() == [], "console errors during the test"


def test_every_screen_has_its_own_document_title(sized_web: WebApp) -> None:
    web = sized_web
    email, source, _ = seeded_user(web.server)
    web.open("/signin")
    expect(web.page).to_have_title("Sign in — hexbank")
    web.link("Create an account").click()
    expect(web.page).to_have_title("Create an account — hexbank")
    web.sign_in(email)
    expect(web.page).to_have_title("Your accounts — hexbank")
    web.link("Everyday").click()
    expect(web.page).to_have_title("Everyday — hexbank")
    web.link("Move money").click()
    expect(web.page).to_have_title("Move money — hexbank")
    web.link("Transfers").click()
    expect(web.page).to_have_title("Transfers — hexbank")
    web.open("/nowhere")
    expect(web.page).to_have_title("Page not found — hexbank")
    assert source


def test_accounts_show_one_total_per_currency(sized_web: WebApp) -> None:
    web = sized_web
    client = Client(web.server.url)
    user = client.register()
    client.open_account(user, deposit=10_000)
    client.open_account(user, deposit=2_550)
    client.open_account(user, currency="USD", deposit=99)
    web.sign_in(user.email)
    totals = web.page.get_by_label("Total", exact=True)
    expect(totals).to_have_count(2)
    expect(totals.nth(0)).to_have_text("€125.50")
    expect(totals.nth(1)).to_have_text("$0.99")


def test_the_top_bar_opens_move_money_with_no_source_chosen(sized_web: WebApp) -> None:
    web = sized_web
    email, _, _ = seeded_user(web.server)
    web.sign_in(email)
    web.link("Move money").click()
    expect(web.heading("Move money")).to_be_visible()
    expect(web.field("From")).to_have_value("")
    web.field("Amount").fill("1")
    web.button("Review").click()
    expect(web.page.get_by_text("Choose the account to send from.")).to_be_visible()


def test_moving_money_to_an_own_account_picked_by_name_reviews_then_clears(
    sized_web: WebApp,
) -> None:
    web = sized_web
    email, source, _ = seeded_user(web.server)
    web.sign_in(email)
    web.open(f"/move-money?from={source}")
    to_account = web.page.get_by_role("combobox", name="To account")
    to_account.fill("Savings")
    web.field("Amount").fill("12.50")
    web.button("Review").click()

    summary = web.page.locator("dl.summary")
    expect(summary).to_contain_text("Everyday")
    expect(summary).to_contain_text("Savings")
    expect(summary).to_contain_text("€12.50")
    expect(summary).to_contain_text("Available after €87.50")
    web.button("Back").click()
    expect(web.field("Amount")).to_have_value("12.50")  # Back keeps what was typed
    assert web.requests.count(*TRANSFERS_POSTED) == 0
    web.review_and_send()

    expect(web.status()).to_have_text("Completed")
    expect(web.field("Amount")).to_have_value("")  # cleared: paying twice needs a new amount
    expect(to_account).to_have_value("")
    web.button("Review").click()
    expect(web.field("Amount")).to_have_attribute("aria-invalid", "true")
    assert web.requests.count(*TRANSFERS_POSTED) == 1


def test_money_that_cannot_be_sent_is_said_before_sending(sized_web: WebApp) -> None:
    web = sized_web
    email, source, target = seeded_user(web.server)
    web.sign_in(email)
    web.open(f"/move-money?from={source}")
    to_account, amount = web.field("To account"), web.field("Amount")
    cases = [
        (target, "100.01", amount, "That is more than the €100.00 available on this account."),
        ("Everyday", "1", to_account, "Choose a different account"),
        (source, "1", to_account, "Choose a different account"),
        ("not-an-account", "1", to_account, "That is not an account id"),
    ]
    for target_text, amount_text, field, words in cases:
        to_account.fill(target_text)
        amount.fill(amount_text)
        web.button("Review").click()
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_accessible_description(re.compile(re.escape(words)))

    web.accounts_page_of(source)
    web.button("Withdraw").click()
    web.field("Amount").fill("250")
    web.button("Confirm").click()
    expect(web.field("Amount")).to_have_attribute("aria-invalid", "true")
    assert web.requests.count(*TRANSFERS_POSTED) == 0
    assert web.requests.count("POST", r"/api/v1/accounts/[^/]+/withdrawals") == 0


def test_a_field_error_clears_the_previous_result(sized_web: WebApp) -> None:
    web = sized_web
    email, source, target = seeded_user(web.server)
    web.sign_in(email)
    web.send_money(source, target, "5")
    expect(web.status()).to_have_text("Completed")

    web.field("To account").fill(target)
    web.field("Amount").fill("5.555")
    web.button("Review").click()
    expect(web.field("Amount")).to_have_attribute("aria-invalid", "true")
    expect(web.status()).to_have_text("")


def test_a_transfer_opens_its_details_with_full_ids(sized_web: WebApp) -> None:
    web = sized_web
    email, source, _ = seeded_user(web.server)
    payee = Client(web.server.url)
    stranger = payee.open_account(payee.register())
    web.sign_in(email)
    web.send_money(source, stranger, "7", "Piano lesson")
    expect(web.status()).to_have_text("Completed")

    web.link("Transfers").click()
    row = web.transfers().filter(has_text="Piano lesson")
    expect(row).to_contain_text(stranger)  # the whole id, not a truncated one
    row.get_by_role("link").click()
    expect(web.heading("Transfer")).to_be_visible()
    details = web.page.locator("dl.summary")
    expect(details).to_contain_text(stranger)
    expect(details).to_contain_text(source)
    expect(details).to_contain_text("Piano lesson")
    expect(web.page.locator(".transfer-status")).to_have_text("Completed")


def test_amounts_take_the_decimal_comma_of_a_german_browser(
    browser_for_locale: WebApp,
) -> None:
    web = browser_for_locale
    email, source, _ = seeded_user(web.server)
    web.sign_in(email)
    web.accounts_page_of(source)
    web.add_money("10,50")
    expect(web.field("Balance")).to_have_text(re.compile(r"^110,50\s€$"))
    table = web.page.get_by_role("table", name="Transactions")
    expect(table.get_by_role("row").nth(1)).to_contain_text(re.compile(r"\+10,50\s€"))


def test_the_chart_covers_the_whole_history_with_axes_and_a_value_on_focus(
    sized_web: WebApp,
) -> None:
    web = sized_web
    client = Client(web.server.url)
    user = client.register()
    account = client.open_account(user)
    for amount in range(100, 6_200, 100):  # 61 deposits: more than one page of 50
        client.expect(201, "POST", f"/accounts/{account}/deposits", user, json={"amount": amount})
    web.sign_in(user.email)
    web.accounts_page_of(account)
    chart = web.page.get_by_role("figure", name="Balance history")
    expect(chart.get_by_role("img", name="Balance history")).to_be_visible()
    expect(chart.locator("text.chart-label").first).to_be_visible()  # axis labels
    expect(chart.locator("text.chart-label").filter(has_text="€0")).to_have_count(1)
    line = chart.locator("path.chart-line")
    drawn = line.get_attribute("d")

    web.button("Load more").click()
    expect(web.page.get_by_role("table", name="Transactions").get_by_role("row")).to_have_count(62)
    assert line.get_attribute("d") == drawn  # the chart never depended on the loaded rows
    assert web.requests.count("GET", r"/api/v1/accounts/[^/]+/daily-balances") == 1

    day = web.page.get_by_role("slider", name="Day shown")
    day.focus()
    expect(day).to_have_attribute("aria-valuetext", re.compile(r": €1,891\.00$"))
    day.press("Home")
    expect(day).to_have_attribute("aria-valuetext", re.compile(r"\d{4}: €"))


def test_an_account_page_reads_each_thing_once(web: WebApp) -> None:
    web.console.allow_failed_response(404)  # the unknown account below
    email, source, _ = seeded_user(web.server)
    web.sign_in(email)
    web.open(f"/accounts/{source}")  # a full page load: the socket's first `ready` comes too
    expect(web.page.get_by_role("table", name="Transactions")).to_contain_text("Money added")
    expect(web.page.get_by_text("Live", exact=True)).to_be_visible()
    assert web.requests.count("GET", rf"/api/v1/accounts/{source}/transactions\?limit=50") == 1
    missing = str(uuid.uuid4())
    web.open(f"/accounts/{missing}")
    expect(web.heading("Account not found")).to_be_visible()
    expect(web.page.get_by_text("Live", exact=True)).to_be_visible()
    assert web.requests.count("GET", rf"/api/v1/accounts/{missing}") == 1


def test_registration_and_sign_in_refusals_read_well(sized_web: WebApp) -> None:
    web = sized_web
    for status in (401, 409, 429):
        web.console.allow_failed_response(status)
    email, _, _ = seeded_user(web.server)
    web.open("/register")
    web.field("Name").fill("Twin")
    web.field("Email").fill(email)
    web.field("Password").fill(PASSWORD)
    web.button("Create account").click()
    expect(web.page.get_by_text("An account with this email already exists.")).to_have_count(1)
    web.link("Sign in instead?").click()
    expect(web.button("Sign in")).to_be_visible()

    web.field("Email").fill(email)
    web.field("Password").fill("not the password")
    for _ in range(6):  # five failures lock the email for 15 minutes
        web.button("Sign in").click()
        expect(web.page.get_by_role("alert")).to_be_visible()
    locked = "Too many attempts. Try again in 15 minutes."
    expect(web.page.get_by_role("alert")).to_have_text(locked)


def test_closing_an_account_is_destructive_and_said_once(sized_web: WebApp) -> None:
    web = sized_web
    email, _, empty = seeded_user(web.server)
    web.sign_in(email)
    web.accounts_page_of(empty)
    web.button("Close account").click()
    confirm = web.page.get_by_role("dialog").get_by_role("button", name="Close account")
    background = confirm.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(185, 28, 28)", background  # the danger colour, not the primary blue
    confirm.click()
    expect(web.page.get_by_text("Closed", exact=True)).to_be_visible()
    expect(web.page.get_by_text(re.compile("This account is closed"))).to_have_count(1)
    expect(web.button("Add money")).to_have_count(0)
