"""Finance reconciles a partner's statement as a person does: upload the partner's workbook, check how it reads,
import it, then resolve one item of each category in the workspace — accept a partner's amount, dispute another,
link an unknown line by hand, dismiss a duplicate, write off a fee missing from the statement."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from openpyxl import Workbook
from playwright.sync_api import expect

from finance.models import PartnerReference, PartnerStatement, Resolution
from partners import matching
from partners.models import FeeAccrual
from tests.browser.test_csp import Watch
from tests.conftest import make_user
from tests.factories import PASSWORD, FeeAgreementFactory
from tests.factories.finance import converted_referral

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(rows: list[list]) -> bytes:
    book = Workbook()
    book.active.title = "Summary"
    book.active["A1"] = "Acme Lending — referral fees"
    sheet = book.create_sheet("Fees")
    sheet.append(["Acme Lending", "Statement of referral fees"])
    sheet.append([])
    sheet.append(["Your ref", "Partner ref", "Date", "Type", "Commission", "Currency"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def open_category(page, name: str):
    page.get_by_role("navigation", name="Categories").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()


@pytest.mark.django_db(transaction=True)
def test_finance_uploads_an_xlsx_statement_and_resolves_an_item_of_each_category(live_server, page, login):
    matching.catalogue_reset()
    user = make_user("Finance")
    user.first_name, user.last_name = "Fran", "Finance"
    user.set_password(PASSWORD)
    user.save()
    partner = FeeAgreementFactory(
        partner__name="Acme Lending", partner__decimal_separator=",", valid_from=timezone.localdate() - timedelta(400)
    ).partner
    at = timezone.now() - timedelta(days=10)
    day = timezone.localtime(at).strftime("%d/%m/%Y")
    matched, higher, lower, partial = (converted_referral(partner=partner, at=at) for _ in range(4))
    grace = converted_referral(partner=partner, at=at, name="Grace Hopper", email="grace@example.com")
    data = workbook(
        [
            [matched.tracking_code, "", day, "", "325,00", "EUR"],
            [higher.tracking_code, "", day, "", 340, "EUR"],  # a number cell: 340.00, more than the 325.00 due
            [lower.tracking_code, "", day, "", "(1.000,00)", "EUR"],
            [partial.tracking_code, "", day, "Conversion", "100,00", "EUR"],
            ["", "ACME-77", day, "", "325,00", "EUR"],
            [matched.tracking_code, "", day, "Conversion", "100,00", "EUR"],
            ["Total", "", "", "", "1.190,00", ""],
        ]
    )
    watch = Watch(page)  # the Content-Security-Policy holds throughout: no violation, no script error, no 4xx/5xx
    login(user.username, PASSWORD)

    # Upload the workbook: its columns are read from the header on the second sheet, below a title
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Finance").click()
    page.get_by_role("link", name="Statements").click()
    page.get_by_role("link", name="Upload a statement").click()
    page.get_by_label("Partner").select_option(label="Acme Lending")
    page.get_by_label("Statement file").set_input_files({"name": "acme-fees.xlsx", "mimeType": XLSX, "buffer": data})
    page.get_by_role("button", name="Read the file").click()
    expect(page.get_by_test_id("file-description")).to_contain_text("sheet “Fees”; header on row 3; 7 rows below it")
    expect(page.get_by_label("Read “Commission” as")).to_have_value("amount")
    expect(page.get_by_label("Read “Your ref” as")).to_have_value("tracking_code")
    preview = page.get_by_test_id("preview")
    expect(preview.get_by_role("row").nth(3)).to_contain_text("-1,000.00")  # “(1.000,00)” in the partner's convention
    expect(page.get_by_role("main")).to_contain_text("total row 10 skipped")
    page.get_by_role("button", name="Import and reconcile").click()

    # The workspace: what matched and what needs a decision
    expect(page.get_by_role("alert")).to_contain_text("Imported 6 lines from acme-fees.xlsx and reconciled them")
    statement = PartnerStatement.objects.get()
    expect(page.get_by_test_id("count-matched")).to_contain_text("2")
    expect(page.get_by_test_id("count-amount_mismatch")).to_contain_text("2 open / 2")
    expect(page.get_by_test_id("count-unknown_referral")).to_contain_text("1 open / 1")
    expect(page.get_by_test_id("count-duplicate_line")).to_contain_text("1 open / 1")
    expect(page.get_by_test_id("count-missing")).to_contain_text("5 open / 5")

    # Accept the partner's higher amount: an adjustment row of +15.00 on the ledger
    items, panel = page.get_by_test_id("items"), page.locator("#item-panel")
    items.get_by_role("link", name=higher.tracking_code).click()
    expect(panel.get_by_role("heading", level=2)).to_have_text("Row 5: Amount mismatch")
    expect(panel.get_by_test_id("claimed")).to_have_text("340.00 EUR")
    panel.get_by_role("button", name="Accept the partner's amount").click()
    expect(panel.get_by_test_id("item-state")).to_contain_text("accepted the partner's amount")
    expect(page.get_by_test_id("count-amount_mismatch")).to_contain_text("1 open / 2")
    expect(items.get_by_role("link", name=higher.tracking_code)).to_have_count(0)  # the list moved on too
    adjustment = FeeAccrual.objects.get(kind="adjustment")
    assert (adjustment.amount, adjustment.corrects.referral) == (Decimal("15.00"), higher)

    # Dispute the lower one: it stays open, with its follow-up day
    items.get_by_role("link", name=lower.tracking_code).click()
    expect(panel.get_by_role("heading", level=2)).to_have_text("Row 6: Amount mismatch")
    panel.get_by_label("What is disputed").fill("A credit note we never agreed to")
    panel.get_by_role("button", name="Dispute").click()
    expect(panel.get_by_test_id("item-state")).to_contain_text("disputed, follow up")
    expect(items).to_contain_text("disputed, follow up")  # still open, and says so in the list

    # Link the unknown line by hand: find the referral by the lead's name
    open_category(page, "Unknown referral")
    items.get_by_role("link", name="ACME-77").click()
    expect(panel.get_by_role("heading", level=2)).to_have_text("Row 8: Unknown referral")
    panel.get_by_label("Link by hand: find the referral").fill("grace")
    panel.get_by_role("button", name=f"Link to {grace.tracking_code}").click()
    expect(panel.get_by_role("heading", level=2)).to_contain_text("Matched")
    expect(panel).to_contain_text("Linked by hand")
    assert PartnerReference.objects.get(reference="ACME-77").referral == grace

    # Dismiss the duplicate
    open_category(page, "Duplicate line")
    items.get_by_role("link", name=matched.tracking_code).click()
    expect(panel.get_by_role("heading", level=2)).to_have_text("Row 9: Duplicate line")
    panel.get_by_role("button", name="Dismiss the duplicate").click()
    expect(panel.get_by_test_id("item-state")).to_contain_text("dismissed as a duplicate")
    expect(page.get_by_test_id("count-duplicate_line")).to_contain_text("0 open / 1")

    # Write off one of the partial referral's fees the statement leaves out (the hand link covered Grace's)
    open_category(page, "Missing from statement")
    expect(items.get_by_role("row")).to_have_count(3)  # the header and the partial referral's two other fees
    items.get_by_role("link", name="Referral accepted").click()
    expect(panel.get_by_role("heading", level=2)).to_have_text(
        f"Referral accepted of {partial.tracking_code}: Missing from statement"
    )
    panel.get_by_label("Reason for the write-off").fill("Agreed with Acme: not billed")
    panel.get_by_role("button", name="Write off").click()
    expect(panel.get_by_test_id("item-state")).to_contain_text("written off")

    resolutions = Resolution.objects.filter(item__statement=statement)
    assert sorted(resolutions.values_list("action", flat=True)) == [
        "accept", "dismiss", "dispute", "link", "link", "link", "link", "write_off",
    ]  # fmt: skip
    assert set(resolutions.values_list("resolved_by", flat=True)) == {user.pk}
    write_off = FeeAccrual.objects.get(kind="write_off")
    assert (write_off.amount, write_off.corrects.referral) == (Decimal("-25.00"), partial)
    watch.assert_clean()
