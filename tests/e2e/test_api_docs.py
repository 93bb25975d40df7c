"""/api/docs in Chromium on a live server: Swagger UI loads from the app under its
Content-Security-Policy, a person authorizes with a bearer token and runs an operation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.live_stack import Client

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Request

    from tests.e2e.browser import WebApp
    from tests.live_stack import Server

pytest_plugins = ["tests.e2e.browser"]
pytestmark = pytest.mark.e2e


#: Every Content-Security-Policy violation of the page, as the browser reports it to the page.
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) =>
  window.cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`));
"""


@pytest.fixture
def docs(browser: Browser, web_server: Server) -> Iterator[WebApp]:
    """A desktop tab with the app's CSP in force (not bypassed). At the end, any CSP violation
    or console error fails the test."""
    from tests.e2e.browser import new_web_app

    app = new_web_app(browser, web_server)
    app.page.add_init_script(RECORD_CSP_VIOLATIONS)
    yield app
    violations = app.page.evaluate("() => window.cspViolations")
    app.page.context.close()
    assert violations == [], "CSP violations"
    assert app.console.unexpected() == [], "console errors during the test"


def test_a_person_authorizes_with_a_token_and_lists_their_accounts(docs: WebApp) -> None:
    client = Client(docs.server.url)
    user = client.register()
    client.expect(201, "POST", "/accounts", user, json={"name": "Docs savings", "currency": "EUR"})
    page = docs.page
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(docs.server.url) else None,
    )

    docs.open("/api/docs")
    expect(page.get_by_role("heading", name="hexbank API")).to_be_visible()
    page.locator(".auth-wrapper").get_by_role("button", name="Authorize").click()
    dialog = page.locator(".modal-ux")  # Swagger UI's "Available authorizations"
    dialog.get_by_role("textbox").fill(user.access_token)  # bearerAuth's "Value:"
    dialog.get_by_role("button", name="Apply credentials").click()
    expect(dialog.get_by_role("button", name="Remove authorization")).to_be_visible()
    dialog.get_by_role("button", name="Close", exact=True).click()

    operation = page.locator("#operations-accounts-listAccounts")
    operation.locator(".opblock-summary").first.click()

    def is_the_list(request: Request) -> bool:
        return request.method == "GET" and request.url.startswith(
            f"{docs.server.url}/api/v1/accounts"
        )

    with page.expect_request(is_the_list) as sent:
        operation.get_by_role("button", name="Execute").click()
    assert sent.value.headers.get("authorization") == f"Bearer {user.access_token}"
    live = operation.locator(".live-responses-table")
    expect(live.locator("tbody .response-col_status")).to_have_text("200")
    expect(live).to_contain_text("Docs savings")
    assert outside == [], "requests outside the app (a CDN, a validator)"
