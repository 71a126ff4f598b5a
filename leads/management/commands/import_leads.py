"""`manage.py import_leads PATH [--source SLUG] [--map COLUMN=field ...] [--dry-run] [--json]`

The same import service as the import page. With --json the last line is one JSON object with rows,
created, updated, duplicates, rejected and errors (a list of {row, column, message}). Exit status 0 when
the file was imported (rejected rows are reported, not fatal), 1 when the file as a whole was refused."""

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from leads.importing import ImportFileError, field_choices, guess_mapping, import_path, inspect_file
from leads.models import LeadSource
from leads.services import icp_attribute_keys


class Command(BaseCommand):
    help = "Import leads from a CSV file into a source (UTF-8/Windows-1252; comma, semicolon or tab)."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--source", help="Source slug or name (optional when there is only one source).")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=field",
            help="Map a CSV column to a lead field (or attributes.<key>, or nothing to skip it); repeatable. "
            "Columns not given keep the guessed mapping.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check and count everything, store nothing.")
        parser.add_argument("--json", action="store_true", help="End with one JSON object on the last line.")

    def handle(self, *args, **options):
        source = self._source(options["source"])
        try:
            with open(options["path"], "rb") as f:
                csv_file = inspect_file(f)
        except OSError as exc:
            return self._fail(options, f"Cannot read {options['path']}: {exc.strerror}.")
        except ImportFileError as exc:
            return self._fail(options, str(exc))
        mapping = guess_mapping(csv_file.headers, icp_attribute_keys(source))
        fields = {name for name, _ in field_choices()}
        for item in options["map"]:
            column, sep, target = item.partition("=")
            if not sep:
                raise CommandError(f"--map {item!r}: write COLUMN=field (fields: {', '.join(sorted(fields))}).")
            if column.strip() not in csv_file.headers:
                raise CommandError(f"--map {item!r}: the file has no column {column.strip()!r} "
                                   f"(columns: {', '.join(csv_file.headers)}).")  # fmt: skip
            mapping[column.strip()] = target.strip()
        if not options["json"]:
            self.stdout.write(f"{options['path']}: {csv_file.encoding}, {csv_file.delimiter_name}-separated")
            for column, target in mapping.items():
                self.stdout.write(f"  {column!r:>30} -> {target or '(skipped)'}")

        def progress(rows: int, fraction: float) -> None:
            if not options["json"] and rows and rows % 100_000 == 0:
                self.stdout.write(f"  … {rows:,} rows read ({fraction:.0%})")

        try:
            result = import_path(
                options["path"],
                source=source,
                mapping=mapping,
                dry_run=options["dry_run"],
                label=options["path"].rsplit("/", 1)[-1],
                progress=progress,
            )
        except ImportFileError as exc:
            return self._fail(options, str(exc))
        data = result.as_dict()
        if options["json"]:
            self.stdout.write(json.dumps(data, default=str))
            return
        for error in result.errors[:50]:
            self.stdout.write(
                f"  row {error.row}" + (f", {error.column}" if error.column else "") + f": {error.message}"
            )
        if len(result.errors) > 50:
            self.stdout.write(f"  … and {len(result.errors) - 50} more problems (use --json for all)")
        verb = "Would import" if result.dry_run else "Imported"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {result.rows} rows into {source.slug}: {result.created} created, {result.updated} updated, "
                f"{result.duplicates} duplicates merged, {result.rejected} rejected. Bands: {result.bands or '-'}"
            )
        )

    def _source(self, given: str | None) -> LeadSource:
        sources = LeadSource.objects.all()
        if given:
            source = sources.filter(slug=given).first() or sources.filter(name__iexact=given).first()
            if source is None:
                raise CommandError(f"No source {given!r}. Sources: {', '.join(s.slug for s in sources) or 'none'}.")
            return source
        if sources.count() == 1:
            return sources.get()
        raise CommandError(f"Say which source with --source ({', '.join(s.slug for s in sources) or 'none exist'}).")

    def _fail(self, options, message: str) -> None:
        if options["json"]:
            self.stdout.write(
                json.dumps({"rows": 0, "created": 0, "updated": 0, "duplicates": 0, "rejected": 0,
                            "errors": [{"row": None, "column": "", "message": message}], "file_error": message})
            )  # fmt: skip
        else:
            self.stderr.write(message)
        sys.exit(1)
