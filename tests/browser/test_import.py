"""Sales Ops imports a CSV in the browser: upload → mapping → preview with problems → dry run → import
run by a real Celery worker with live progress → the rejected-rows report."""

import csv
import io

import pytest
from playwright.sync_api import expect

from leads.models import Lead
from tests.conftest import make_user
from tests.factories import PASSWORD
from tests.workers import celery_worker

CSV = (
    "Lead ID;E-mail;Full Name;Organisation;No. of employees;Credit score;Budget;Currency;Remarks\r\n"
    "W1;wendy@example.com;Wendy Ng;Acme;40;720;25000;GBP;Call after 3pm\r\n"
    "W2;not-an-email;Xavier;Bco;12;650;15000;GBP;\r\n"
    "\r\n"
    "W3;yusuf@example.com;Yusuf;Cco;about ten;580;5000;GBP;\r\n"
    'W4;zara@example.com;Zara;Dco;8;701;12000;GBP;"two\r\nlines"\r\n'
)


@pytest.fixture
def default_queue_worker(transactional_db):
    """A real worker on the queue the app sends to (leftover messages purged first)."""
    with celery_worker("celery", purge=True) as proc:
        yield proc


@pytest.mark.django_db(transaction=True)
def test_sales_ops_imports_a_csv_end_to_end(live_server, login, page, bank_source, default_queue_worker, tmp_path):
    user = make_user("Sales Ops")
    user.set_password(PASSWORD)
    user.save()
    path = tmp_path / "web-leads.csv"
    path.write_bytes(CSV.encode("cp1252"))
    login(user.username, PASSWORD)

    # Upload
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Import").click()
    page.get_by_label("Source").select_option(label=bank_source.name)
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and check").click()

    # Mapping guessed, preview shows the problems on their cells
    expect(page.get_by_text("semicolon-separated, 9 columns")).to_be_visible()
    expect(page.get_by_label("E-mail")).to_have_value("email")
    expect(page.get_by_label("Remarks")).to_have_value("")
    expect(page.locator('td[data-problem="“not-an-email” is not an email address"]')).to_be_visible()
    expect(page.locator('td[data-problem="“about ten” is not a whole number"]')).to_be_visible()

    # Edit the mapping: the preview re-renders in place (htmx)
    page.get_by_label("No. of employees").select_option("")
    expect(page.locator('td[data-problem="“about ten” is not a whole number"]')).to_have_count(0)
    page.get_by_label("No. of employees").select_option("employees")
    page.get_by_label("Remarks").select_option("message")
    expect(page.locator('td[data-problem="“about ten” is not a whole number"]')).to_be_visible()

    # Dry run through the worker: counts, nothing stored
    page.get_by_role("button", name="Dry run (store nothing)").click()
    result = page.get_by_test_id("import-result")
    expect(result).to_contain_text("Dry run — nothing was stored", timeout=45_000)
    expect(result).to_contain_text("2 new")
    expect(result).to_contain_text("2 rejected")
    assert not Lead.objects.filter(source=bank_source).exists()

    # The import itself, with the mapping kept
    expect(page.get_by_label("Remarks")).to_have_value("message")
    page.get_by_role("button", name="Import", exact=True).click()
    expect(result).to_contain_text("Imported 4 rows", timeout=45_000)
    assert set(Lead.objects.values_list("external_id", flat=True)) == {"W1", "W4"}
    assert Lead.objects.get(external_id="W4").message == "two\r\nlines"

    # The report of rejected rows
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the rejected rows").click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert rows == [
        ["row", "column", "problem"],
        ["3", "E-mail", "“not-an-email” is not an email address"],
        ["5", "No. of employees", "“about ten” is not a whole number"],
    ]
