import csv
import io
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from finance import journal, services
from finance.models import AuditEntry
from partners.models import LedgerLock
from tests.factories.finance import converted_referral, fee

pytestmark = pytest.mark.django_db
ACCOUNTS = {"receivable": "1200 AR", "revenue": "4000 Fees", "bank": "1010 Bank", "write_off": "6950 Bad debts"}


def last_month_end() -> date:
    return timezone.localdate().replace(day=1) - timedelta(days=1)


# Closing months ----------------------------------------------------------------------------------------------------


def test_periods_page_shows_where_the_books_stand(finance_client):
    response = finance_client.get(reverse("finance:periods"))

    assert response.status_code == 200
    assert "No month is closed yet." in response.text
    assert "Close the month" in response.text


def test_closing_a_month_locks_it_and_says_so(finance_client, finance_user):
    end = last_month_end()

    response = finance_client.post(reverse("finance:period_lock"), {"month": f"{end:%Y-%m}"}, follow=True)

    assert LedgerLock.objects.get().locked_through == end
    assert f"The books are closed through {end:%Y-%m-%d}." in response.text
    entry = AuditEntry.objects.get(action="period_locked")
    assert (entry.actor, entry.changes) == (finance_user, {"locked_through": [None, end.isoformat()]})


def test_a_lock_only_moves_forward(finance_client):
    end = last_month_end()
    services.period_lock(month=end)

    response = finance_client.post(reverse("finance:period_lock"), {"month": f"{end - timedelta(days=40):%Y-%m}"})

    assert response.status_code == 422
    assert response.context["form"].errors["month"] == [
        f"The books are closed through {end:%Y-%m-%d} already; a lock only moves forward."
    ]
    assert LedgerLock.objects.get().locked_through == end


@pytest.mark.parametrize("month", ["", "March", "2026-13"])
def test_closing_refuses_a_month_that_is_not_one(finance_client, month):
    response = finance_client.post(reverse("finance:period_lock"), {"month": month})

    assert response.status_code == 422
    assert "month" in response.context["form"].errors


def test_closing_the_current_month_is_refused(finance_client):
    response = finance_client.post(reverse("finance:period_lock"), {"month": f"{timezone.localdate():%Y-%m}"})

    assert response.status_code == 422
    assert "has not ended yet" in response.text


def test_closing_is_refused_to_managers(manager_client):
    response = manager_client.post(reverse("finance:period_lock"), {"month": f"{last_month_end():%Y-%m}"})

    assert response.status_code == 403
    assert LedgerLock.objects.get().locked_through is None


# The journal ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def month_of_entries(partner):
    """April 2026: a conversion (3 fees), a payment, a write-off with a hostile reason, a bounce."""
    april = timezone.make_aware(timezone.datetime(2026, 4, 10, 9))
    referral = converted_referral(partner=partner, deal_value="1000", at=april)
    payment = services.payment_record(partner=partner, amount=D("125.00"), currency="EUR", received_on=april.date(),
                                      reference="@SUM(A1)", now=april)  # fmt: skip
    write_off = services.accrual_write_off(accrual=fee(referral, "conversion_percent"), reason="-gone", now=april)
    bounce = services.payment_bounce(payment=payment, reason="Returned", bounced_on=date(2026, 4, 20))
    return referral, payment, write_off, bounce


@override_settings(FINANCE_ACCOUNTS=ACCOUNTS)
def test_journal_rows_are_double_entries_in_the_documented_columns(month_of_entries):
    referral, payment, write_off, bounce = month_of_entries
    accepted = fee(referral, "accepted")

    rows = list(journal.journal_rows(start=date(2026, 4, 1), end=date(2026, 4, 30)))

    assert rows[0] == journal.COLUMNS == [
        "entry_id", "posted_on", "occurred_at", "partner", "tracking_code", "kind", "debit_account",
        "credit_account", "amount", "currency", "reverses", "statement", "payment", "description",
    ]  # fmt: skip
    assert [(r[0], r[5], r[6], r[7], r[8]) for r in rows[1:]] == [
        (f"FEE-{accepted.pk}", "accepted", "1200 AR", "4000 Fees", D("25.00")),
        (f"FEE-{accepted.pk + 1}", "conversion", "1200 AR", "4000 Fees", D("100.00")),
        (f"FEE-{accepted.pk + 2}", "conversion_percent", "1200 AR", "4000 Fees", D("100.00")),
        (f"FEE-{write_off.pk}", "write_off", "6950 Bad debts", "1200 AR", D("100.00")),
        (f"PAY-{payment.pk}", "payment", "1010 Bank", "1200 AR", D("125.00")),
        (f"PAY-{bounce.pk}", "bounce", "1200 AR", "1010 Bank", D("125.00")),
    ]
    write_off_row, payment_row, bounce_row = rows[4], rows[5], rows[6]
    assert write_off_row[3:5] == ["Acme Lending", referral.tracking_code]
    assert write_off_row[10] == f"FEE-{accepted.pk + 2}"
    assert payment_row[12] == payment.pk
    assert payment_row[13] == "Payment received, reference @SUM(A1)"
    assert bounce_row[10] == f"PAY-{payment.pk}"


def test_journal_leaves_out_what_was_posted_outside_the_period(month_of_entries):
    assert journal.journal_count(start=date(2026, 5, 1), end=date(2026, 5, 31)) == 0
    assert journal.journal_count(start=date(2026, 4, 1), end=date(2026, 4, 30)) == 6


def test_journal_page_previews_and_links_the_exports(finance_client, month_of_entries):
    response = finance_client.get(reverse("finance:journal"), {"start": "2026-04-01", "end": "2026-04-30"})

    assert response.status_code == 200
    assert response.context["count"] == 6
    assert "6 entries posted from 2026-04-01 to 2026-04-30." in response.text
    assert f"{reverse('finance:journal_csv')}?start=2026-04-01&amp;end=2026-04-30" in response.text


def test_journal_csv_reads_back_formula_safe(finance_client, month_of_entries):
    response = finance_client.get(reverse("finance:journal_csv"), {"start": "2026-04-01", "end": "2026-04-30"})

    assert response["Content-Disposition"] == 'attachment; filename="journal-20260401-20260430.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == journal.COLUMNS
    assert len(rows) == 7
    assert rows[4][13] == "Write-off: -gone"
    assert rows[5][13] == "Payment received, reference @SUM(A1)"
    assert rows[1][8] == "25.00"


def test_journal_xlsx_reads_back_with_typed_cells(finance_client, month_of_entries):
    response = finance_client.get(reverse("finance:journal_xlsx"), {"start": "2026-04-01", "end": "2026-04-30"})

    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == journal.COLUMNS
    assert rows[1][1].date() == date(2026, 4, 10)  # a date cell
    assert rows[1][8] == 25  # a number
    assert len(rows) == 7


def test_journal_refuses_a_backwards_period(finance_client):
    response = finance_client.get(reverse("finance:journal"), {"start": "2026-04-30", "end": "2026-04-01"})

    assert response.status_code == 422


# The audit trail -----------------------------------------------------------------------------------------------------


def test_audit_page_lists_entries_with_who_and_filters_by_action(finance_client, finance_user, partner):
    services.payment_record(partner=partner, amount=D("10.00"), currency="EUR", received_on=timezone.localdate(),
                            actor=finance_user)  # fmt: skip
    services.period_lock(month=last_month_end(), actor=finance_user)

    response = finance_client.get(reverse("finance:audit"), {"action": "payment_recorded"})

    entries = [row.record for row in response.context["table"].page.object_list]
    assert [(e.action, e.who) for e in entries] == [("payment_recorded", finance_user.get_username())]


def test_audit_page_htmx_returns_only_the_table(finance_client, htmx_headers):
    response = finance_client.get(reverse("finance:audit"), headers=htmx_headers("audit-table-region"))

    assert response.text.lstrip().startswith('<div id="audit-table-region"')


def test_finance_is_in_the_navigation_of_finance_and_managers_only(finance_client, client_for):
    assert '<a class="nav-link" href="/finance/">Finance</a>' in finance_client.get("/").text
    assert 'href="/finance/">Finance</a>' in client_for("Manager").get("/").text
    assert 'href="/finance/">Finance</a>' not in client_for("Sales Ops").get("/").text


@pytest.mark.parametrize("entries", [1, 5])
def test_audit_page_query_count_does_not_grow_with_rows(
    finance_client, finance_user, partner, django_assert_num_queries, entries
):
    for _ in range(entries):
        services.payment_record(partner=partner, amount=D("1.00"), currency="EUR", received_on=timezone.localdate(),
                                reference=f"R{_}", actor=finance_user)  # fmt: skip
    finance_client.get(reverse("finance:audit"))

    # session, user, 2 x permissions, roles, partner choices (count + rows), row count, the page (actor, partner joined)
    with django_assert_num_queries(9):
        finance_client.get(reverse("finance:audit"))


@pytest.mark.parametrize("entries", [1, 5])
def test_journal_page_query_count_does_not_grow_with_rows(finance_client, partner, django_assert_num_queries, entries):
    for _ in range(entries):
        services.payment_record(partner=partner, amount=D("1.00"), currency="EUR", received_on=date(2026, 4, 2),
                                reference=f"R{_}", now=timezone.make_aware(timezone.datetime(2026, 4, 3)))  # fmt: skip
    url = reverse("finance:journal")
    finance_client.get(url, {"start": "2026-04-01", "end": "2026-04-30"})

    # session, user, 2 x permissions, roles, ledger rows, payments (partner joined), two counts
    with django_assert_num_queries(9):
        finance_client.get(url, {"start": "2026-04-01", "end": "2026-04-30"})


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_dates_at_the_ends_of_the_calendar_are_a_message_not_a_crash(finance_client, partner, day):
    assert finance_client.get(reverse("finance:overview"), {"as_of": day}).status_code == 200
    assert finance_client.get(reverse("finance:journal"), {"start": day, "end": day}).status_code == 422
    assert finance_client.get(reverse("finance:ledger"), {"posted_from": day, "due_to": day}).status_code == 200
    assert finance_client.post(reverse("finance:period_lock"), {"month": day[:7]}).status_code == 422
    response = finance_client.post(
        reverse("finance:payment_create"), {"partner": partner.pk, "amount": "1", "currency": "EUR", "received_on": day}
    )
    assert response.status_code == 422
