"""Sales Ops works the triage queue in the browser: one lead to each kind of redirect, two people racing for
one lead, a bulk close, and the keyboard. The database is checked after each step."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from leads.models import Lead, LeadStatus
from leads.seed import seed_reasons
from nurture.models import Enrollment
from nurture.seed import seed_tracks
from outbox.models import OutboundMessage
from partners import matching
from partners.models import Referral
from tests.conftest import make_user
from tests.factories import PASSWORD, ConsentingLeadFactory, FeeAgreementFactory, UserFactory


@pytest.fixture
def workspace(transactional_db):
    """Reasons, the demo tracks and replies, one partner with a fee agreement, and a Sales Ops user."""
    matching.catalogue_reset()
    reasons = seed_reasons()
    seed_tracks()
    FeeAgreementFactory(partner__name="Acme Lending")
    user = make_user("Sales Ops")
    user.set_password(PASSWORD)
    user.save()
    yield {"reasons": reasons, "user": user}
    matching.catalogue_reset()


def waiting(name: str, *, hours: int, reason=None, **kwargs) -> Lead:
    """A disqualified lead (partner-sharing and marketing consent) to answer within `hours`."""
    now = timezone.now()
    return ConsentingLeadFactory(
        name=name,
        primary_reason=reason,
        received_at=now + timedelta(hours=min(hours, 0) - 1),
        respond_by=now + timedelta(hours=hours),
        marketing_consent_at=now,
        marketing_consent_version="v1",
        **kwargs,
    )


def sign_in(page, live_server, username: str):
    page.goto(f"{live_server.url}/accounts/login/?next=/triage/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Triage")).to_be_visible()
    page.wait_for_load_state("load")  # the shortcuts script runs once the page has loaded
    return page


def open_lead(page, name: str):
    page.locator("#triage-table").get_by_role("link", name=name, exact=True).click()
    panel = page.get_by_role("region", name=f"Lead: {name}")
    expect(panel).to_be_visible()
    # htmx wires the panel's forms, and focuses it, once the swap has settled
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')")
    return panel


def status(lead: Lead) -> str:
    return Lead.objects.get(pk=lead.pk).status


@pytest.mark.django_db(transaction=True)
def test_sales_ops_gives_one_lead_each_kind_of_redirect(live_server, page, workspace):
    budget = workspace["reasons"]["budget"]
    ivy = waiting("Ivy Introduce", hours=1, reason=budget)
    sid = waiting("Sid Signpost", hours=2, reason=budget)
    nina = waiting("Nina Nurture", hours=3, reason=budget)
    hal = waiting("Hal Help", hours=4, reason=budget)
    bot = waiting("Xx Bot", hours=5, reason=budget)
    sign_in(page, live_server, workspace["user"].username)
    table = page.locator("#triage-table")
    page.evaluate("window.__marker = 'same page'")

    # Introduce, with consent: the panel shows the new status and the row leaves the queue
    panel = open_lead(page, "Ivy Introduce")
    expect(page).to_have_url(f"{live_server.url}/triage/?lead={ivy.pk}")
    expect(panel.get_by_text("Expected fee:")).to_be_visible()
    panel.get_by_role("button", name="Introduce to Acme Lending").click()
    expect(panel.get_by_test_id("lead-status")).to_have_text("Referred")
    expect(page.get_by_role("alert")).to_contain_text("Ivy Introduce introduced to Acme Lending; tracking code PT-")
    expect(table.get_by_role("link", name="Ivy Introduce")).to_have_count(0)
    assert Referral.objects.get(lead=ivy).mode == "introduce"
    assert status(ivy) == LeadStatus.REFERRED

    # Introduce refused (consent withdrawn while the panel was open), then signpost from the preview
    panel = open_lead(page, "Sid Signpost")
    Lead.objects.filter(pk=sid.pk).update(partner_sharing_consent_at=None)
    panel.get_by_role("button", name="Introduce to Acme Lending").click()
    expect(page.get_by_role("alert")).to_contain_text("has not agreed to their details being shared with partners")
    expect(panel.get_by_role("button", name="Introduce to Acme Lending")).to_be_disabled()
    assert not Referral.objects.filter(lead=sid).exists()
    panel.get_by_text("Signpost to Acme Lending: preview what they receive").click()
    expect(panel.get_by_label(f"Signpost email to {sid.email}")).to_contain_text(
        "We have not shared any of your details"
    )
    panel.get_by_role("button", name="Send this signpost").click()
    expect(panel.get_by_test_id("lead-status")).to_have_text("Referred")
    assert Referral.objects.get(lead=sid).mode == "signpost"

    # Nurture: the track for its reason comes first
    panel = open_lead(page, "Nina Nurture")
    panel.get_by_role("button", name="Enroll in Budget and timing: ready when you are").click()
    expect(panel.get_by_test_id("lead-status")).to_have_text("Nurturing")
    assert Enrollment.objects.get(lead=nina).track.slug == "budget-timing"

    # A helpful reply with an edited subject
    panel = open_lead(page, "Hal Help")
    expect(panel.get_by_label("Subject")).to_have_value("Resources while you plan your budget")
    panel.get_by_label("Subject").fill("Free guides, as promised")
    panel.get_by_role("button", name="Send this reply").click()
    expect(panel.get_by_test_id("lead-status")).to_have_text("Helped")
    assert OutboundMessage.objects.get(lead=hal, kind="helpful_reply").subject == "Free guides, as promised"

    # Done: "Next lead" has the focus, so Enter goes on to the next one
    expect(panel.get_by_role("link", name="Next lead: Xx Bot →")).to_be_focused()
    page.keyboard.press("Enter")
    panel = page.get_by_role("region", name="Lead: Xx Bot")

    # Close as spam, which needs a reason
    panel.get_by_label("It is").select_option("spam")
    panel.get_by_role("button", name="Close the lead").click()
    expect(panel.get_by_text("Say why (for example")).to_be_visible()
    expect(panel.get_by_label("Reason for closing")).to_be_focused()
    assert status(bot) == LeadStatus.DISQUALIFIED
    panel.get_by_label("Reason for closing").fill("Gibberish message from a disposable address")
    panel.get_by_role("button", name="Close the lead").click()
    expect(panel.get_by_test_id("lead-status")).to_have_text("Closed (not a person)")
    assert status(bot) == LeadStatus.CLOSED
    assert bot.events.get(verb="closed").data == {
        "kind": "spam",
        "reason": "Gibberish message from a disposable address",
    }

    expect(page.get_by_text("Nothing waiting here")).to_be_visible()
    assert page.evaluate("window.__marker") == "same page"  # all of it without a page load


@pytest.mark.django_db(transaction=True)
def test_two_people_racing_for_one_lead_produce_one_referral(live_server, browser, workspace):
    lead = waiting("Rae Race", hours=2)
    olive = UserFactory(username="olive", role="Sales Ops", first_name="Olive", last_name="Other")
    mine, theirs = browser.new_context(), browser.new_context()
    me = sign_in(mine.new_page(), live_server, workspace["user"].username)
    olive_page = sign_in(theirs.new_page(), live_server, olive.username)

    # Olive opens it first: it is hers for a few minutes, and I am told so
    olive_panel = open_lead(olive_page, "Rae Race")
    expect(olive_panel.get_by_role("button", name="Introduce to Acme Lending")).to_be_visible()
    my_panel = open_lead(me, "Rae Race")
    until = timezone.localtime(Lead.objects.get(pk=lead.pk).claimed_until)
    expect(my_panel.get_by_test_id("claim-notice")).to_contain_text(
        f"Olive Other is working on this lead until {until:%H:%M}."
    )
    expect(my_panel.get_by_role("button", name="Introduce to Acme Lending")).to_have_count(0)

    # Her claim lapses while her page stays open; I take the lead and introduce it
    Lead.objects.filter(pk=lead.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    my_panel = open_lead(me, "Rae Race")
    my_panel.get_by_role("button", name="Introduce to Acme Lending").click()
    expect(my_panel.get_by_test_id("lead-status")).to_have_text("Referred")

    # Olive acts on her stale page: refused, told why, and shown the lead as it is now
    olive_panel.get_by_role("button", name="Introduce to Acme Lending").click()
    expect(olive_page.get_by_role("alert")).to_contain_text("already handled this lead: it is now referred.")
    expect(olive_panel.get_by_test_id("lead-status")).to_have_text("Referred")
    expect(olive_panel.get_by_role("button", name="Introduce to Acme Lending")).to_have_count(0)

    assert Referral.objects.filter(lead=lead).count() == 1
    assert Referral.objects.get(lead=lead).created_by == workspace["user"]
    mine.close()
    theirs.close()


@pytest.mark.django_db(transaction=True)
def test_bulk_close_two_ticked_rows_as_spam(live_server, page, workspace):
    first, second = waiting("Spam One", hours=1), waiting("Spam Two", hours=2)
    keeper = waiting("Real Person", hours=3)
    sign_in(page, live_server, workspace["user"].username)
    counts = page.get_by_role("list", name="Leads waiting per reason").get_by_role("listitem")
    expect(counts).to_have_text(["No reason 3"])

    page.get_by_label("Select Spam One").check()
    page.get_by_label("Select Spam Two").check()
    expect(page.get_by_label("Why they are spam")).to_be_hidden()  # the field its action needs, once chosen
    page.locator("#triage-table").get_by_role("link", name="Respond by").click()  # sorting keeps the ticks
    expect(page).to_have_url(re.compile(r"sort=-respond_by"))
    expect(page.get_by_label("Select Spam One")).to_be_checked()
    expect(page.get_by_label("Select Spam Two")).to_be_checked()
    expect(page.get_by_label("Select Real Person")).not_to_be_checked()
    page.get_by_label("With the ticked leads").select_option("close_spam")
    page.get_by_label("Why they are spam").fill("Bot sign-ups from one address range")
    page.get_by_role("button", name="Apply to the ticked leads").click()

    expect(page.get_by_role("alert")).to_contain_text("2 closed as spam.")
    table = page.locator("#triage-table")
    expect(table.get_by_role("link", name="Spam One")).to_have_count(0)
    expect(table.get_by_role("link", name="Spam Two")).to_have_count(0)
    expect(table.get_by_role("link", name="Real Person")).to_be_visible()
    expect(counts).to_have_text(["No reason 1"])  # the counts follow (leadChanged)
    assert (status(first), status(second), status(keeper)) == ("closed", "closed", "disqualified")


@pytest.mark.django_db(transaction=True)
def test_keyboard_moves_opens_ticks_and_lists_shortcuts(live_server, page, workspace):
    budget = workspace["reasons"]["budget"]
    waiting("First Fay", hours=1, reason=budget)
    second = waiting("Second Sol", hours=2, reason=budget)
    waiting("Third Tam", hours=3, reason=budget)
    sign_in(page, live_server, workspace["user"].username)

    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.locator(f"#lead-row-{second.pk}")).to_be_focused()
    page.keyboard.press("x")
    expect(page.get_by_label("Select Second Sol")).to_be_checked()
    page.keyboard.press("Enter")
    panel = page.get_by_role("region", name="Lead: Second Sol")
    expect(panel).to_be_visible()
    assert Lead.objects.get(pk=second.pk).claimed_by == workspace["user"]
    # Once the swap settles the page focuses the new panel; a key pressed before that would lose its focus.
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')")

    page.keyboard.press("r")
    expect(panel.get_by_role("button", name="Introduce to Acme Lending")).to_be_focused()
    page.keyboard.press("n")
    expect(panel.get_by_role("button", name="Enroll in Budget and timing: ready when you are")).to_be_focused()
    page.keyboard.press("h")
    subject = panel.get_by_label("Subject")
    expect(subject).to_be_focused()
    subject.fill("")
    page.keyboard.type("jk?x")  # typing in a field is typing, not shortcuts
    expect(subject).to_have_value("jk?x")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()
    expect(page.get_by_label("Select Second Sol")).to_be_checked()

    subject.blur()
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Open the selected lead beside the table")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
