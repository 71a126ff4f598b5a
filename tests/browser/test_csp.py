"""The Content-Security-Policy in a real browser: each role's main pages, the triage panel opened and htmx swaps
done, the API docs and the admin load with zero CSP violations in the console, no script error, and no request
answered 4xx/5xx (the favicon included)."""

import re

import pytest
from playwright.sync_api import expect

from leads.seed import seed_reasons
from nurture.seed import seed_tracks
from partners import matching
from tests.browser.test_triage_flow import open_lead, waiting
from tests.conftest import make_user
from tests.factories import PASSWORD, FeeAgreementFactory, ImportJobFactory


class Watch:
    """What the browser reports while a test walks the pages: CSP violations (the console and the
    `securitypolicyviolation` event), uncaught script errors, and requests that failed."""

    def __init__(self, page):
        self.page = page
        self.console: list[str] = []
        self.errors: list[str] = []
        self.failed: list[str] = []
        page.add_init_script(
            "window.__csp = [];"
            "document.addEventListener('securitypolicyviolation', e =>"
            " window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' on ' + e.documentURI));"
        )
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"))
        self.violations: list[str] = []

    def _console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text or "Refused to" in text:
            self.console.append(text)

    def collect(self) -> None:
        """The violations the current page recorded (call before leaving it)."""
        self.violations += self.page.evaluate("window.__csp || []")

    def goto(self, url: str) -> None:
        self.collect()
        self.page.goto(url)
        self.page.wait_for_load_state("load")

    def assert_clean(self) -> None:
        self.collect()
        assert (self.console, self.violations, self.errors, self.failed) == ([], [], [], [])


def user(role: str):
    person = make_user(role)
    person.set_password(PASSWORD)
    person.save()
    return person


def sign_in(watch: Watch, live_server, person) -> None:
    watch.goto(f"{live_server.url}/accounts/login/")
    watch.page.get_by_label("Username").fill(person.username)
    watch.page.get_by_label("Password").fill(PASSWORD)
    watch.page.get_by_role("button", name="Log in").click()
    expect(watch.page.get_by_test_id("whoami")).to_be_visible()


def settled(page) -> None:
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')")


@pytest.fixture
def workspace(transactional_db):
    matching.catalogue_reset()
    reasons = seed_reasons()
    seed_tracks()
    agreement = FeeAgreementFactory(partner__name="Acme Lending")
    lead = waiting("Ada Panel", hours=2, reason=reasons["budget"])
    yield {"lead": lead, "agreement": agreement, "job": ImportJobFactory()}
    matching.catalogue_reset()


@pytest.mark.django_db(transaction=True)
def test_sales_ops_pages_and_htmx_swaps_run_under_the_policy(live_server, page, workspace):
    watch = Watch(page)
    sign_in(watch, live_server, user("Sales Ops"))
    lead = workspace["lead"]

    watch.goto(f"{live_server.url}/triage/")
    page.evaluate("window.__marker = 'same page'")
    panel = open_lead(page, "Ada Panel")  # htmx swaps the panel in
    panel.get_by_text("Signpost to Acme Lending: preview what they receive").click()
    expect(panel.get_by_label(f"Signpost email to {lead.email}")).to_contain_text("Hello Ada Panel,")
    page.get_by_label("Overdue", exact=True).check()  # the filter swaps the table
    settled(page)
    expect(page.locator("#triage-table-region")).to_contain_text("Nothing waiting here")
    page.get_by_role("button", name="Keyboard shortcuts").click()  # the static triage script still runs
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    assert page.evaluate("window.__marker") == "same page"

    watch.goto(f"{live_server.url}/leads/{lead.pk}/")
    expect(page.get_by_test_id("match")).to_have_count(1)  # partners loaded by htmx on load
    watch.goto(f"{live_server.url}/leads/")
    page.get_by_label("Search").fill("Ada")  # the table swaps as they type
    expect(page).to_have_url(re.compile(r"/leads/\?q=Ada&"))
    watch.goto(f"{live_server.url}/nurture/leads/{lead.pk}/reply/")
    watch.goto(f"{live_server.url}/nurture/")
    watch.goto(f"{live_server.url}/leads/import/")
    watch.goto(f"{live_server.url}/leads/import/{workspace['job'].pk}/")
    page.locator("#map-1").select_option("")  # the mapping preview swaps
    settled(page)

    watch.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_finance_and_manager_pages_run_under_the_policy(live_server, page, workspace):
    watch = Watch(page)
    partner = workspace["agreement"].partner

    sign_in(watch, live_server, user("Finance"))
    for url in ("/", "/partners/", f"/partners/{partner.pk}/", "/partners/referrals/"):
        watch.goto(f"{live_server.url}{url}")
    watch.goto(f"{live_server.url}/partners/agreements/{workspace['agreement'].pk}/edit/")
    page.get_by_role("button", name="Log out").click()
    sign_in(watch, live_server, user("Manager"))
    for url in ("/", "/leads/", "/leads/icp/", "/nurture/tracks/", "/nurture/tasks/"):
        watch.goto(f"{live_server.url}{url}")
    page.get_by_role("button", name="Log out").click()

    watch.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_api_docs_load_everything_from_this_site(live_server, page):
    watch = Watch(page)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    watch.goto(f"{live_server.url}/api/v1/docs")

    expect(page.get_by_role("heading", name="Passthrough API")).to_be_visible()
    expect(page.get_by_text("/api/v1/leads").first).to_be_visible()
    assert [url for url in requests if not url.startswith(live_server.url)] == []
    watch.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_admin_runs_under_the_policy(live_server, page, workspace):
    watch = Watch(page)
    admin = user("Admin")
    watch.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(admin.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()

    lead, partner = workspace["lead"], workspace["agreement"].partner
    for url in (
        "/admin/leads/lead/",
        f"/admin/leads/lead/{lead.pk}/change/",
        f"/admin/partners/partner/{partner.pk}/change/",
        "/admin/nurture/track/",
        "/admin/nurture/track/add/",
    ):
        watch.goto(f"{live_server.url}{url}")
    page.get_by_text(re.compile("Add another step", re.IGNORECASE)).click()  # the admin's inlines.js
    expect(page.locator("#steps-group tbody tr.dynamic-steps")).to_have_count(2)
    expect(page.get_by_text("Choose all reasons")).to_be_visible()  # SelectFilter2.js built the widget

    watch.assert_clean()
