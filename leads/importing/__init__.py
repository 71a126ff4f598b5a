"""CSV import of leads: one service behind the import page (a Celery task) and `manage.py import_leads`.

The package, in the order a file goes through it: `base` (limits, errors, records, the result), `mapping` (which
column is which field, from the aliases `leads.fields` declares), `reading` (encoding, delimiter, rows), `values`
and `parsing` (cells -> a record or its problems), `running` (chunks, the parser thread, the transaction),
`storing` (PostgreSQL, SQLite, the ORM), `jobs` (the page's uploads, preview, queueing, the task's run).

    inspect_file(f)            -> CsvFile (encoding, delimiter, headers) or ImportFileError
    guess_mapping(headers)     -> {header: field} from everyday header spellings
    preview(f, mapping)        -> the first rows parsed, each cell with its value or its problem
    import_file(f, source=...) -> ImportResult: rows = created + updated + duplicates + rejected

Reading: UTF-8 with or without BOM, UTF-16 with BOM, else Windows-1252 (Latin-1 for the bytes it lacks);
`,` `;` or tab, sniffed from the header; quoted newlines; blank lines skipped; extra columns ignored
unless mapped; optional columns may be missing. A file that is not text, is empty or ends inside a
record is refused as a whole with an ImportFileError. Otherwise every data row is either stored or
reported (row number as a spreadsheet shows it, header = 1; column; problem) and the import is one
transaction: a failure leaves what was stored before untouched. A dry run does all of it and rolls back.

Deduplication: a row's key is its external id, or `email:<address in lower case>` when it has none.
A key repeated within the file merges into the first row (later non-blank cells win) and counts as a
duplicate; a key already stored updates that lead (blank cells never erase stored data, do-not-contact
is never cleared) and counts as updated. New and updated leads are evaluated against the source's ICP.

On PostgreSQL new leads are checked against the ICP (the engine's compiled form) and encoded as COPY lines
in the parser thread, then stored with one COPY per table and chunk (`leads/import_pg.py`); leads that
already exist are updated from a temporary staging table in one statement. On SQLite the same checks and
encoding happen before the transaction begins and the rows are stored with one executemany per table
(`leads/import_sqlite.py`), so SQLite's single write lock is held only while they are written. Other databases
use the ORM in batches.

Import jobs (the page's Celery task) hold their job by a token and a lease that a keeper thread renews
(`leads/import_lease.py`); the outcome is recorded in the import's own transaction once the token is checked.
"""

from leads.importing.base import (
    CHUNK_ROWS,
    KEY_MAX_LENGTH,
    PREVIEW_ROWS,
    ImportFileError,
    ImportResult,
    Record,
    RowError,
)
from leads.importing.jobs import (
    PROGRESS_KEY,
    PreviewRow,
    _JobProgress,
    import_job_create,
    import_job_error_report,
    import_job_inspect,
    import_job_preview,
    import_job_progress,
    import_job_rerun,
    import_job_run,
    import_job_start,
)
from leads.importing.mapping import (
    ATTRIBUTE_PREFIX,
    DEFAULT_CONSENT_VERSION,
    FIELDS,
    FIELDS_BY_NAME,
    FieldSpec,
    field_choices,
    guess_mapping,
    normalise_header,
    validate_mapping,
)
from leads.importing.parsing import RowParser
from leads.importing.reading import CsvFile, RawRow, inspect_file, iter_rows
from leads.importing.running import import_file, import_path
from leads.importing.storing import LEAD_COLUMNS, OrmStore, PostgresStore, SqliteStore
from leads.importing.values import COUNTRY_NAMES, _attribute_value

__all__ = [
    "ATTRIBUTE_PREFIX",
    "CHUNK_ROWS",
    "COUNTRY_NAMES",
    "DEFAULT_CONSENT_VERSION",
    "FIELDS",
    "FIELDS_BY_NAME",
    "KEY_MAX_LENGTH",
    "LEAD_COLUMNS",
    "PREVIEW_ROWS",
    "PROGRESS_KEY",
    "CsvFile",
    "FieldSpec",
    "ImportFileError",
    "ImportResult",
    "OrmStore",
    "PostgresStore",
    "PreviewRow",
    "RawRow",
    "Record",
    "RowError",
    "RowParser",
    "SqliteStore",
    "_JobProgress",
    "_attribute_value",
    "field_choices",
    "guess_mapping",
    "import_file",
    "import_job_create",
    "import_job_error_report",
    "import_job_inspect",
    "import_job_preview",
    "import_job_progress",
    "import_job_rerun",
    "import_job_run",
    "import_job_start",
    "import_path",
    "inspect_file",
    "iter_rows",
    "normalise_header",
    "validate_mapping",
]
