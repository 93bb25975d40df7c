"""Playwright on Debian's Chromium against a live `hexbank serve`: one browser per session, a
fresh context per test, console errors collected on every page, and helpers that act like a
person, finding controls by the accessible names of shared/UI.md.

Load the fixtures with `pytest_plugins = ["tests.e2e.browser"]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.live_stack import PASSWORD, Server, Stack

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
DIST_INDEX = FRONTEND / "dist" / "index.html"
#: axe-core from the web app's dev dependencies (npm), injected from disk: no CDN.
AXE_SCRIPT = FRONTEND / "node_modules" / "axe-core" / "axe.min.js"
#: WCAG 2.0/2.1 level A and AA: the bar of shared/UI.md.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_RUN = """async (tags) => {
  const result = await window.axe.run(document, { runOnly: { type: 'tag', values: tags } });
  return result.violations.map((v) =>
    `${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}"""
# The real binary: Debian's /usr/bin/chromium wrapper prints a harmless shell warning (STACK.md 23).
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 360, "height": 740}
#: Long enough for a saga under a loaded CI machine; a healthy run takes well under a second.
SETTLE_MS = 15_000


class BrowserSetupError(RuntimeError):
    """The web app is not built or Chromium is not installed; the message says what to run."""


def require_built_app() -> None:
    """The browser tests are part of `make test`: a missing build must fail them, not skip."""
    if not DIST_INDEX.is_file():
        raise BrowserSetupError(
            f"The web app is not built ({DIST_INDEX} is missing): run `make web` "
            "(or `npm ci && npm run build` in frontend/) before the browser tests."
        )


def chromium_path() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    raise BrowserSetupError(
        "Chromium is not installed: `apt-get install -y chromium` "
        "(never `playwright install`: it cannot download browsers here)."
    )


def launch(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless (Playwright adds the sandbox and first-run flags itself)."""
    require_built_app()
    return playwright.chromium.launch(executable_path=chromium_path(), args=["--disable-gpu"])


@dataclass
class ConsoleLog:
    """Console errors and uncaught page errors; a test allows the ones it provokes on purpose."""

    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def allow_failed_response(self, status: int) -> None:
        """Chromium logs every 4xx/5xx fetch as a console error, even when the app handles it."""
        self.allow(rf"^Failed to load resource: the server responded with a status of {status}\b")

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@dataclass
class RequestLog:
    """The API requests a page sent, as "METHOD /path?query" (origin left out)."""

    sent: list[str] = field(default_factory=list)

    def watch(self, page: Page, origin: str) -> None:
        page.on("request", lambda r: self._note(r.method, r.url, origin))

    def count(self, method: str, path_pattern: str) -> int:
        pattern = re.compile(rf"^{method} {path_pattern}$")
        return sum(1 for line in self.sent if pattern.match(line))

    def _note(self, method: str, url: str, origin: str) -> None:
        if url.startswith(f"{origin}/api/"):
            self.sent.append(f"{method} {url[len(origin) :]}")


@dataclass
class WebApp:
    """One browser tab on the live app, and what it logged and sent."""

    page: Page
    server: Server
    console: ConsoleLog
    requests: RequestLog = field(default_factory=RequestLog)

    def open(self, path: str = "/") -> None:
        self.page.goto(f"{self.server.url}{path}")

    def heading(self, name: str) -> Locator:
        return self.page.get_by_role("heading", name=name, exact=True)

    def field(self, label: str) -> Locator:
        return self.page.get_by_label(label, exact=True)

    def button(self, name: str) -> Locator:
        return self.page.get_by_role("button", name=name, exact=True)

    def link(self, name: str) -> Locator:
        return self.page.get_by_role("link", name=name, exact=True)

    def accounts(self) -> Locator:
        """The items of the accounts list."""
        return self.page.get_by_role("list", name="Your accounts").get_by_role("listitem")

    def transfers(self) -> Locator:
        """The items of the transfers list, newest first."""
        return self.page.get_by_role("list", name="Transfers").get_by_role("listitem")

    def use_phone(self) -> None:
        self.page.set_viewport_size(PHONE)

    def status(self) -> Locator:
        """The move-money result: the only role="status" region of that screen."""
        return self.page.get_by_role("status")

    def sign_in(self, email: str, password: str = PASSWORD) -> None:
        self.open("/signin")
        self.field("Email").fill(email)
        self.field("Password").fill(password)
        self.button("Sign in").click()
        expect(self.heading("Your accounts")).to_be_visible()

    def register(self, name: str, email: str, password: str = PASSWORD) -> None:
        self.open("/signin")
        self.link("Create an account").click()
        self.field("Name").fill(name)
        self.field("Email").fill(email)
        self.field("Password").fill(password)
        self.button("Create account").click()
        expect(self.heading("Your accounts")).to_be_visible()

    def open_account(self, name: str, currency: str = "EUR") -> None:
        self.button("Open account").click()
        self.field("Account name").fill(name)
        self.field("Currency").select_option(currency)
        self.button("Open").click()
        expect(self.link(name)).to_be_visible()

    def add_money(self, amount: str) -> None:
        """On an account page."""
        self.button("Add money").click()
        self.field("Amount").fill(amount)
        self.button("Confirm").click()
        expect(self.page.get_by_role("dialog")).to_have_count(0)

    def accounts_page_of(self, account_id: str) -> None:
        """Open an account's page (a full page load) and wait for its transactions."""
        self.open(f"/accounts/{account_id}")
        expect(self.page.get_by_role("table", name="Transactions")).to_be_visible()

    def account_id(self) -> str:
        """On an account page: the id shown next to `Copy account id`."""
        return self.page.locator("#account-id").inner_text().strip()

    def send_money(self, source: str, to: str, amount: str, reference: str = "") -> None:
        """Move money from `source` (an own account id): fill in, `Review`, `Send`."""
        self.open(f"/move-money?from={source}")
        self.field("To account").fill(to)
        self.field("Amount").fill(amount)
        if reference:
            self.field("Reference").fill(reference)
        self.review_and_send()

    def review_and_send(self) -> None:
        """On Move money, filled in: `Review`, then `Send` on the summary."""
        self.button("Review").click()
        self.button("Send").click()

    def axe_violations(self) -> list[str]:
        """axe-core's WCAG A/AA violations on the page as it is now, one line each."""
        if not AXE_SCRIPT.is_file():
            raise BrowserSetupError(f"{AXE_SCRIPT} is missing: run `npm ci` in frontend/.")
        if not self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            self.page.add_script_tag(path=str(AXE_SCRIPT))
        found = self.page.evaluate(AXE_RUN, AXE_TAGS)
        return [str(line) for line in found]

    def fits_width(self) -> bool:
        """No horizontal scroll: the document is no wider than the viewport."""
        return bool(
            self.page.evaluate(
                "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
            )
        )


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium for the whole session (launching costs ~1 s)."""
    expect.set_options(timeout=SETTLE_MS)
    with sync_playwright() as playwright:
        try:
            browser = launch(playwright)
        except BrowserSetupError as problem:
            pytest.fail(str(problem), pytrace=False)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A live `hexbank serve` (embedded mode) serving the built web app, shared by a module.

    Starting one costs seconds (migrate, gunicorn, app); tests stay independent by each
    registering its own users in its own browser context (and none stops the server).
    """
    stack = Stack(tmp_path_factory.mktemp("web-app"))
    stack.migrate()
    try:
        yield stack.serve()
    finally:
        stack.stop()


def new_web_app(
    browser: Browser,
    server: Server,
    viewport: ViewportSize = DESKTOP,
    locale: str = "en-US",
    axe: bool = False,
) -> WebApp:
    """A fresh context. With `axe`, the page's CSP is bypassed so axe-core's <script> can be
    added; without it (the `web` fixture) the CSP holds and a violation is a console error."""
    context = browser.new_context(viewport=viewport, locale=locale, bypass_csp=axe)
    context.set_default_timeout(SETTLE_MS)
    page = context.new_page()
    console = ConsoleLog()
    console.watch(page)
    app = WebApp(page, server, console)
    app.requests.watch(page, server.url)
    return app


@pytest.fixture(params=[DESKTOP, PHONE], ids=["1280px", "360px"])
def viewport(request: pytest.FixtureRequest) -> ViewportSize:
    """Both sizes of shared/UI.md: a test that takes `viewport` runs at 1280 and at 360 px."""
    size: ViewportSize = request.param
    return size


@pytest.fixture
def web(browser: Browser, web_server: Server, viewport: ViewportSize) -> Iterator[WebApp]:
    """A fresh browser context (no cookies, no storage) on the shared server, once at 1280 px
    and once at 360 px, with the app's CSP in force.

    At the end, any console error or page error the test did not allow fails it.
    """
    app = new_web_app(browser, web_server, viewport)
    yield app
    app.page.context.close()
    assert app.console.unexpected() == [], "console errors during the test"


@pytest.fixture
def sized_web(browser: Browser, web_server: Server, viewport: ViewportSize) -> Iterator[WebApp]:
    """Like `web`, once at 1280 px and once at 360 px, ready for axe-core."""
    app = new_web_app(browser, web_server, viewport, axe=True)
    yield app
    app.page.context.close()
    assert app.console.unexpected() == [], "console errors during the test"
