"""The CSV import service and `manage.py import_leads`: every malformed case, dedupe, atomicity, queries."""

import codecs
import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leads import engine, importing
from leads.bench import bench_source, write_csv
from leads.importing import ImportFileError, guess_mapping, import_file, inspect_file
from leads.models import Evaluation, Lead, LeadEvent, LeadStatus
from leads.services import published_version, verdict_select

HEADER = "Lead ID,Email Address,Full Name,Company Name,Credit score,Budget,Currency\n"


def csv_bytes(text: str, encoding: str = "utf-8") -> io.BytesIO:
    return io.BytesIO(text.encode(encoding))


def run(text: str | bytes, source, **kwargs):
    data = io.BytesIO(text) if isinstance(text, bytes) else csv_bytes(text)
    return import_file(data, source=source, **kwargs)


def totals_add_up(result) -> bool:
    return result.rows == result.created + result.updated + result.duplicates + result.rejected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Email Address", "email"),
        ("E-mail", "email"),
        ("Company Name", "company"),
        ("Organisation", "company"),
        ("No. of employees", "employees"),
        ("# Employees", "employees"),
        ("Headcount", "employees"),
        ("Budget (£)", "budget"),
        ("Zip code", "postal_code"),
        ("Job Title", "title"),
        ("Lead ID", "external_id"),
        ("Surname", "last_name"),
        ("Something else", ""),
    ],
)
def test_mapping_is_guessed_from_everyday_spellings(header, expected):
    assert guess_mapping([header]) == {header: expected}


def test_mapping_guess_takes_each_field_once_and_knows_icp_attributes():
    mapping = guess_mapping(["Email", "Work email", "Years trading"], attribute_keys={"years_trading"})

    assert mapping == {"Email": "email", "Work email": "", "Years trading": "attributes.years_trading"}


@pytest.mark.django_db
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_reads_each_encoding_and_delimiter(bank_source, encoding, delimiter):
    text = HEADER.replace(",", delimiter) + delimiter.join(["X1", "zoë@example.com", "Zoë Ñúñez", "Café £ Co",
                                                             "700", "20000", "GBP"]) + "\n"  # fmt: skip
    result = import_file(io.BytesIO(text.encode(encoding)), source=bank_source)

    assert (result.created, result.rejected) == (1, 0)
    lead = Lead.objects.get(external_id="X1")
    assert (lead.name, lead.company, lead.email) == ("Zoë Ñúñez", "Café £ Co", "zoë@example.com")
    assert result.delimiter == delimiter


@pytest.mark.django_db
def test_quoted_newlines_blank_lines_extra_and_missing_columns(bank_source):
    text = (
        "Email,Lead ID,Notes,Unrelated column\r\n"
        '\r\nann@example.com,A1,"line one\r\nline two, with a comma",whatever\r\n'
        "\r\n\r\n"
        "bob@example.com,B1,,\r\n"
    )
    result = run(text, bank_source)

    assert (result.rows, result.created, result.rejected) == (2, 2, 0)
    assert Lead.objects.get(external_id="A1").message == "line one\r\nline two, with a comma"
    assert Lead.objects.get(external_id="B1").company == ""  # no company column: left blank


@pytest.mark.django_db
def test_bad_rows_are_reported_with_row_column_and_problem_and_the_rest_stored(bank_source):
    text = HEADER + (
        "G1,good@example.com,Good,Acme,700,20000,GBP\n"
        "B1,not-an-email,Bad,Acme,seven hundred,20000,GBP\n"
        "\n"
        "B2,b2@example.com,Bad,Acme,700,12000,\n"
        "B3,b3@example.com,Bad,Acme,1700,1,GBP\n"
        "B4,b4@example.com,Short row\n"
    )
    result = run(text, bank_source)

    assert (result.rows, result.created, result.rejected) == (5, 1, 4)
    assert totals_add_up(result)
    errors = {(e.row, e.column): e.message for e in result.errors}
    assert "not an email address" in errors[(3, "Email Address")]
    assert "not a whole number" in errors[(3, "Credit score")]
    assert errors[(5, "Currency")] == (
        "required when a budget is given (add a currency column or write the budget as £12,000)"
    )
    assert "out of range" in errors[(6, "Credit score")]
    assert "3 values but the header has 7 columns" in errors[(7, "")]
    assert list(Lead.objects.values_list("external_id", flat=True)) == ["G1"]


@pytest.mark.django_db
def test_a_currency_that_is_not_iso_4217_is_reported_on_its_row(bank_source):
    text = HEADER + "G1,good@example.com,Good,Acme,700,20000,gbp\nB1,b1@example.com,Bad,Acme,700,20000,POU\n"

    result = run(text, bank_source)

    assert (result.created, result.rejected) == (1, 1)
    errors = {(e.row, e.column): e.message for e in result.errors}
    assert errors[(3, "Currency")] == (
        "'POU' is not an ISO 4217 currency code: use its three letters, such as EUR, GBP or USD."
    )
    assert Lead.objects.get().budget_currency == "GBP"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\r\n\r\n", "empty"),
        (codecs.BOM_UTF8, "empty"),
        (b"PK\x03\x04\x14\x00\x06\x00binary", "Excel workbook"),
        (b"\x00\x01\x02\x03" * 100, "not a CSV text file"),
        (HEADER.encode() + b'G1,g@example.com,"Good\n', "ends inside a quoted value that starts on line 2"),
        (HEADER.encode() + b"G1,g@example.com,Good,Acme,700,20000,GBP\nG2,g2@exa", "ends in the middle of row 3"),
    ],
)
def test_unusable_files_are_refused_with_a_clear_message_and_nothing_stored(bank_source, content, message):
    with pytest.raises(ImportFileError, match=message):
        run(content, bank_source)

    assert not Lead.objects.exists()


@pytest.mark.django_db
def test_repeated_external_id_within_a_file_and_across_imports_updates(bank_source):
    first = run(HEADER + "R1,r@example.com,Rae,,700,20000,GBP\nR1,r@example.com,Rae Smith,Rco,,,\n", bank_source)
    again = run(HEADER + "R1,r@example.com,,New Co,650,,\n", bank_source)

    assert (first.created, first.duplicates, again.created, again.updated) == (1, 1, 0, 1)
    assert totals_add_up(first)
    assert totals_add_up(again)
    lead = Lead.objects.get()
    # later non-blank cells win; blank cells never erase what is stored
    assert (lead.name, lead.company, lead.credit_score, str(lead.budget)) == ("Rae Smith", "New Co", 650, "20000.00")
    assert lead.events.order_by("id").first().verb == "received"
    assert lead.events.filter(verb="updated").exists()


@pytest.mark.django_db
def test_without_an_external_id_the_email_is_the_key(bank_source):
    text = "Email,Name\nAnn@Example.com,Ann\nann@example.com,Ann Lee\n"
    first = run(text, bank_source)
    second = run(text, bank_source)

    assert (first.created, first.duplicates, second.updated, second.duplicates) == (1, 1, 1, 1)
    assert Lead.objects.get().external_id == "email:ann@example.com"


@pytest.mark.django_db
def test_do_not_contact_is_never_cleared_by_an_import(bank_source):
    run("Email,Do not contact\na@example.com,yes\n", bank_source)
    run("Email,Do not contact\na@example.com,no\n", bank_source)

    assert Lead.objects.get().do_not_contact is True


@pytest.mark.django_db
def test_imported_leads_are_evaluated_and_placed_in_their_band(bank_source):
    text = (
        HEADER
        + "Q1,q@example.com,Q,Acme,700,20000,GBP\nD1,d@example.com,D,Acme,500,20000,GBP\nN1,n@example.com,N,,,,\n"
    )
    result = run(text, bank_source, label="leads.csv")

    statuses = dict(Lead.objects.values_list("external_id", "status"))
    assert statuses == {"Q1": LeadStatus.QUALIFIED, "D1": LeadStatus.DISQUALIFIED, "N1": LeadStatus.NEEDS_REVIEW}
    assert result.bands == {"qualified": 1, "disqualified": 1, "needs_review": 1}
    lead = Lead.objects.get(external_id="D1")
    assert lead.icp_band == "disqualified"
    assert lead.evaluations.get().band == "disqualified"
    assert LeadEvent.objects.filter(lead=lead, verb="received", data__import="leads.csv").exists()


@pytest.mark.django_db
def test_consent_columns_record_time_and_wording_version(bank_source):
    text = "Email,Marketing consent,Partner consent,Partner consent version,Received\n"
    text += "a@example.com,yes,2026-11-01 10:00,partner-v3,2026-11-02 09:00\n"
    run(text, bank_source)

    lead = Lead.objects.get()
    assert lead.marketing_consent_at == lead.received_at
    assert lead.marketing_consent_version == importing.DEFAULT_CONSENT_VERSION
    assert lead.partner_sharing_consent_version == "partner-v3"
    assert lead.partner_sharing_consent_at.isoformat().startswith("2026-11-01T10:00")


@pytest.mark.django_db
def test_dry_run_counts_everything_and_stores_nothing(bank_source):
    result = run(HEADER + "D1,d@example.com,D,Acme,700,20000,GBP\n", bank_source, dry_run=True)

    assert (result.created, result.dry_run) == (1, True)
    assert not Lead.objects.exists()
    assert not LeadEvent.objects.exists()


@pytest.mark.django_db
def test_a_failure_midway_leaves_what_was_stored_before_untouched(bank_source, monkeypatch):
    run(HEADER + "K1,keep@example.com,Keep,Acme,700,20000,GBP\n", bank_source)
    before = list(Lead.objects.values_list("external_id", "name", "status"))
    store = {"postgresql": importing.PostgresStore, "sqlite": importing.SqliteStore}.get(
        connection.vendor, importing.OrmStore
    )
    original, calls = store.write, []

    def write_then_fail(self, records):
        calls.append(len(records))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return original(self, records)

    monkeypatch.setattr(store, "write", write_then_fail)
    text = (
        HEADER
        + "K1,keep@example.com,Changed,,,,\n"
        + "".join(f"N{i},n{i}@example.com,N,Acme,700,20000,GBP\n" for i in range(5))
    )
    with pytest.raises(RuntimeError):
        run(text, bank_source, chunk_rows=2)

    assert calls == [2, 2]
    assert list(Lead.objects.values_list("external_id", "name", "status")) == before


@pytest.mark.django_db
def test_database_work_does_not_grow_with_the_number_of_rows(bank_source):
    def queries_for(rows: int) -> int:
        text = HEADER + "".join(f"Q{rows}-{i},q{i}@example.com,Q,Acme,700,20000,GBP\n" for i in range(rows))
        with CaptureQueriesContext(connection) as ctx:
            result = run(text, bank_source)
        assert result.created == rows
        return len(ctx.captured_queries)

    run(HEADER + "U1,u@example.com,U,Acme,700,20000,GBP\n", bank_source)  # warm caches (content types, …)

    assert queries_for(5) == queries_for(300)


def test_inspect_reports_encoding_and_delimiter():
    csv_file = inspect_file(io.BytesIO("Email;Name\r\nzoë@example.com;Zoë\r\n".encode("cp1252")))

    assert (csv_file.encoding, csv_file.delimiter_name, csv_file.headers) == ("cp1252", "semicolon", ["Email", "Name"])


# The command ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_command_json_last_line_has_the_counts_and_every_error(bank_source, tmp_path, capsys):
    path = tmp_path / "leads.csv"
    path.write_text(HEADER + "C1,c@example.com,C,Acme,700,20000,GBP\nC2,bad,C,Acme,700,20000,GBP\n")

    call_command("import_leads", str(path), "--source", bank_source.slug, "--json")

    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {k: data[k] for k in ("rows", "created", "updated", "duplicates", "rejected")} == {
        "rows": 2, "created": 1, "updated": 0, "duplicates": 0, "rejected": 1,
    }  # fmt: skip
    assert data["errors"] == [{"row": 3, "column": "Email Address", "message": "“bad” is not an email address"}]


@pytest.mark.django_db
def test_command_map_overrides_and_dry_run(bank_source, tmp_path, capsys):
    path = tmp_path / "leads.csv"
    path.write_text("Contact,Ref\nm@example.com,M1\n")

    call_command("import_leads", str(path), "--source", bank_source.slug, "--map", "Contact=email",
                 "--map", "Ref=external_id", "--dry-run", "--json")  # fmt: skip

    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (data["created"], data["dry_run"], data["mapping"]) == (1, True, {"Contact": "email", "Ref": "external_id"})
    assert not Lead.objects.exists()


@pytest.mark.django_db
def test_command_refuses_an_unusable_file_with_exit_status_1(bank_source, tmp_path, capsys):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")

    with pytest.raises(SystemExit) as exc:
        call_command("import_leads", str(path), "--source", bank_source.slug, "--json")

    assert exc.value.code == 1
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert data["errors"][0]["message"] == "The file is empty."


@pytest.mark.parametrize(
    ("cell", "stored"),
    [("12", 12), ("-3.25", -3.25), ("0.1", 0.1), ("TRUE", True), ("1234567890.123456789", "1234567890.123456789"),
     ("£12", "£12"), ("007", 7)],
)  # fmt: skip
def test_attribute_cells_become_json_numbers_only_when_exact(cell, stored):
    assert importing._attribute_value(cell) == stored


@pytest.mark.django_db
def test_imported_evaluations_match_the_sql_back_end_on_the_stored_leads(tmp_path):
    """The import checks new leads in Python (PostgreSQL) while it parses them; checked again in SQL from the
    stored rows, every lead gets the same verdict: score, band, reason, each criterion and the values."""
    source = bench_source()  # twenty criteria over most operators, fields and an attribute
    path = tmp_path / "leads.csv"
    write_csv(path, 400)
    result = importing.import_path(path, source=source, chunk_rows=150)
    assert (result.created, result.rejected) == (400, 0)

    rule_set = engine.rule_set_from_version(published_version(source.icp_profile_id))
    sql, params = verdict_select(Lead.objects.filter(source=source), rule_set)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        expected = {row[0]: row[1:] for row in cursor.fetchall()}
    stored = Evaluation.objects.filter(lead__source=source)
    assert stored.count() == 400
    for evaluation in stored:
        score, band, reason_id, outcomes, actual = expected[evaluation.lead_id]
        actual = json.loads(actual) if isinstance(actual, str) else actual
        assert (evaluation.score, evaluation.band, evaluation.primary_reason_id) == (score, band, reason_id)
        assert evaluation.outcomes == outcomes
        assert json.loads(json.dumps(evaluation.actual)) == json.loads(json.dumps(actual))
    for lead in Lead.objects.filter(source=source):
        score, band, reason_id, *_ = expected[lead.pk]
        assert (lead.status, lead.icp_band) == (band, band)
        assert lead.primary_reason_id == (None if band == "qualified" else reason_id)


@pytest.mark.django_db
def test_tabs_backslashes_and_line_ends_in_values_are_stored_as_written(bank_source):
    text = 'Email,Company Name,Message\na@example.com,"Tab\there","C:\\new\\file\r\nsecond line \\N"\n'
    run(text, bank_source)

    lead = Lead.objects.get()
    assert lead.company == "Tab\there"
    assert lead.message == "C:\\new\\file\r\nsecond line \\N"


CELLS = [
    "0", "007", "42", "1200", "10000001", "1000", "1001", "12.5", "-3", "-0.5", "51.507400", "999999999999.999",
    "1.200", "£12.000,50", "12,000", " 42 ", "4 - 10", "x", "yes", "Yes", "no", " y ", "1", "-", "✓", "GB", "gb",
    "United Kingdom", "uk", "ÉÉ", "GBP", "gbp", "GB1", "2026-11-23", "2026-11-23T14:30:00+01:00", "2026-11-23 14:30",
    "23/11/2026", "2026-11-23T14:30:00Z", " 2026-11-23 ", "20261123", "²", "١٢", "a" * 300,
    "POU", "XAU", "pounds", "usd", "EUR",
]  # fmt: skip


@pytest.mark.parametrize("spec", importing.FIELDS, ids=lambda spec: spec.name)
def test_short_paths_read_every_cell_as_the_full_parser_does(spec):
    """Each column's converter takes a short path for everyday cells; it must give the full parser's value,
    or its error, for any cell."""
    csv_file = importing.CsvFile("utf-8", ",", ["Email", spec.label], 0)
    parser = importing.RowParser(csv_file, {"Email": "email", spec.label: spec.name})
    convert = parser._converter(spec)
    for cell in CELLS:
        try:
            expected = ("value", parser._value(spec, cell))
        except ValueError as exc:
            expected = ("error", str(exc))
        try:
            got = ("value", convert(cell))
        except ValueError as exc:
            got = ("error", str(exc))
        assert got == expected, cell
        assert type(got[1]) is type(expected[1]), cell


PADDING = "".join(f"p{i}@example.com,Acme Trading Partners\n" for i in range(400))  # past the sniffed head


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "created", "error"),
    [
        pytest.param(  # a valid email, but "email:<it>" is past the 100 characters of an id
            "Email,Company Name\n" + "a" * 90 + "@example.com,Acme\nok@example.com,Acme\n",
            1,
            {
                "row": 2,
                "column": "Email",
                "message": "too long to identify the lead by (at most 94 characters without an id)",
            },
            id="email too long to be the key",
        ),
        pytest.param(  # past the part sniffed for binary data (a NUL there refuses the whole file)
            f"Email,Company Name\n{PADDING}bad@example.com,Ac\x00me\n",
            400,
            {"row": 402, "column": "Company Name", "message": "contains a NUL character (binary data in a text file?)"},
            id="NUL character",
        ),
    ],
)
def test_values_no_lead_column_can_hold_are_reported_on_their_row(bank_source, text, created, error):
    result = run(text, bank_source)

    assert (result.created, result.rejected) == (created, 1)
    assert result.errors[0].as_dict() == error
