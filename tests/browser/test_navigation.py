import pytest
from playwright.sync_api import expect

from tests.conftest import make_user
from tests.factories import PASSWORD, LeadFactory

# Links each role must see in the main navigation, and links it must not see.
NAV = {
    "Sales Ops": ({"Home", "Leads"}, {"Admin"}),
    "Finance": ({"Home"}, {"Leads", "Admin"}),
    "Manager": ({"Home", "Leads"}, {"Admin"}),
    "Admin": ({"Home", "Leads", "Admin"}, set()),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", sorted(NAV))
def test_each_role_sees_its_navigation(live_server, login, role):
    user = make_user(role)
    user.set_password(PASSWORD)
    user.save()

    page = login(user.username, PASSWORD)

    nav = page.get_by_role("navigation", name="Main")
    expect(page.get_by_test_id("whoami")).to_contain_text(role)
    visible, hidden = NAV[role]
    for label in visible:
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    for label in hidden:
        expect(nav.get_by_role("link", name=label, exact=True)).to_have_count(0)


@pytest.mark.django_db(transaction=True)
def test_anonymous_visitor_is_sent_to_login(live_server, page):
    page.goto(f"{live_server.url}/leads/")

    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/leads/")
    expect(page.get_by_role("heading", name="Log in to Passthrough")).to_be_visible()


@pytest.mark.django_db(transaction=True)
def test_lead_table_sorts_and_filters_without_reloading(live_server, login):
    user = make_user("Manager")
    user.set_password(PASSWORD)
    user.save()
    LeadFactory(name="Ada Lovelace", country="GB")
    LeadFactory(name="Grace Hopper", country="US")
    page = login(user.username, PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Leads").click()
    page.evaluate("window.__marker = 'same page'")

    page.get_by_label("Country").fill("US")
    page.get_by_label("Country").press("Enter")

    table = page.locator("#lead-table")
    expect(table.get_by_role("link", name="Grace Hopper")).to_be_visible()
    expect(table.get_by_role("link", name="Ada Lovelace")).to_have_count(0)
    expect(page).to_have_url(f"{live_server.url}/leads/?q=&status=&source=&country=US")
    assert page.evaluate("window.__marker") == "same page"  # the table was swapped, not the page
    # htmx wires the links of swapped-in content once the swap has settled
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')")
    table.get_by_role("link", name="Lead").click()
    expect(page).to_have_url(f"{live_server.url}/leads/?q=&status=&source=&country=US&sort=name&page=1")
    assert page.evaluate("window.__marker") == "same page"
