"""Finance's month end, as a person does it: see who is late, record a payment and allocate it (the aging moves),
close last month, export the journal and read it back."""

import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import expect

from finance.models import Allocation, Payment
from partners import matching
from partners.models import LedgerLock
from tests.conftest import make_user
from tests.factories import PASSWORD, FeeAgreementFactory
from tests.factories.finance import converted_referral


@pytest.mark.django_db(transaction=True)
def test_finance_records_a_payment_closes_the_month_and_exports_the_journal(live_server, login):
    matching.catalogue_reset()
    user = make_user("Finance")
    user.set_password(PASSWORD)
    user.save()
    partner = FeeAgreementFactory(
        partner__name="Acme Lending", valid_from=timezone.localdate() - timedelta(days=400)
    ).partner
    converted = timezone.now() - timedelta(days=45)  # 225.00 EUR, due 15 days ago
    referral = converted_referral(partner=partner, deal_value="1000", at=converted)
    page = login(user.username, PASSWORD)

    # Who owes what: Acme is late, 225.00 EUR in the 1-30 days column
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Finance").click()
    row = page.get_by_test_id(f"aging-{partner.pk}-EUR")
    expect(row).to_contain_text("late")
    expect(row.get_by_role("cell").nth(2)).to_have_text("225.00")
    expect(page.get_by_test_id("late-partners")).to_contain_text("Acme Lending (225.00 EUR)")

    # Record a payment of 125.00 and allocate it, oldest due first
    page.get_by_role("link", name="Record a payment", exact=True).click()
    page.get_by_label("Partner").select_option(label="Acme Lending")
    page.get_by_label("Amount received").fill("125.00")
    page.get_by_label("Currency").fill("eur")
    page.get_by_label("Reference").fill("BANK-0042")
    page.get_by_role("button", name="Record the payment").click()
    expect(page.get_by_role("alert")).to_contain_text("Recorded 125.00 EUR from Acme Lending.")
    page.get_by_role("button", name="Allocate automatically, oldest due first").click()
    expect(page.get_by_role("alert")).to_contain_text("Allocated 125.00 EUR to 2 fee(s), oldest due first.")
    expect(page.get_by_test_id("unallocated")).to_have_text("0.00 EUR")
    payment = Payment.objects.get()
    assert (payment.amount, payment.reference) == (Decimal("125.00"), "BANK-0042")
    assert sorted(Allocation.objects.values_list("accrual__kind", "amount")) == [
        ("accepted", Decimal("25.00")),
        ("conversion", Decimal("100.00")),
    ]

    # The aging moved: 100.00 still late; the open fee is the share of the deal
    page.get_by_role("link", name="Who owes what").click()
    row = page.get_by_test_id(f"aging-{partner.pk}-EUR")
    expect(row.get_by_role("cell").nth(2)).to_have_text("100.00")
    row.get_by_role("link", name="Acme Lending").click()
    items = page.get_by_role("region", name="Open fees of Acme Lending")
    expect(items.get_by_role("row")).to_have_count(2)
    expect(items).to_contain_text("Conversion (share of deal)")

    # Close last month
    page.get_by_role("link", name="Closed months").click()
    page.get_by_role("button", name="Close the month").click()
    last_month_end = timezone.localdate().replace(day=1) - timedelta(days=1)
    expect(page.get_by_role("alert")).to_contain_text(f"The books are closed through {last_month_end:%Y-%m-%d}.")
    expect(page.get_by_test_id("locked-through")).to_have_text(f"{last_month_end:%Y-%m-%d}")
    assert LedgerLock.objects.get().locked_through == last_month_end

    # Export the journal from the conversion to today and read it back
    page.get_by_role("link", name="Journal").click()
    page.get_by_label("From").fill(f"{converted:%Y-%m-%d}")
    page.get_by_label("Until").fill(f"{timezone.localdate():%Y-%m-%d}")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("journal-count")).to_contain_text("4 entries posted")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export XLSX").click()
    download = download_info.value
    assert download.suggested_filename == f"journal-{converted:%Y%m%d}-{timezone.localdate():%Y%m%d}.xlsx"
    workbook = load_workbook(io.BytesIO(Path(download.path()).read_bytes()))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][:3] == ("entry_id", "posted_on", "occurred_at")
    assert [(r[4], r[5], r[8], r[9]) for r in rows[1:]] == [
        (referral.tracking_code, "accepted", 25, "EUR"),
        (referral.tracking_code, "conversion", 100, "EUR"),
        (referral.tracking_code, "conversion_percent", 100, "EUR"),
        (None, "payment", 125, "EUR"),
    ]
    assert rows[4][6:8] == ("1010 Bank", "1200 Referral fees receivable")
