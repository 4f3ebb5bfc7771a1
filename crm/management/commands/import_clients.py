"""`python manage.py import_clients FILE --merchant SLUG [--dry-run] [--overwrite] [--report-json PATH]
[--map FIELD=COLUMN ...] [--ignore COLUMN ...] [--note COLUMN ...] [--preset NAME]`

Columns are found by their headers and content; `--map phone="Моб. тел."` fixes a field's column
(a header, a letter such as B, or a number), `--ignore` leaves a column out, `--note` keeps a
column as the client's note («Column: value», one a line), `--preset` reads the
export of a known system (uds, iiko, poster, evotor, r_keeper, amocrm, bitrix24, 1c).

Exit 0 when the file was processed (row errors included, listed in the report); non-zero with
a one-line message when it was not (unknown merchant, unreadable file, no phone column, …)."""

import json

from django.core.management.base import BaseCommand, CommandError

from crm.importing import import_file_run
from crm.importing.mapping import mapping_from_cli
from crm.importing.presets import PRESETS
from onboarding.models import Merchant


class Command(BaseCommand):
    help = "Import a client base (CSV or XLSX) into a merchant."
    # The site's system checks load the URL configuration, every view and admin module and
    # check every model — most of the command's start-up, for nothing it uses. They run with
    # `manage.py check`, the web server and the deployment's checks.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--merchant", required=True, help="merchant slug")
        parser.add_argument("--dry-run", action="store_true", help="validate only, write nothing")
        parser.add_argument(
            "--overwrite",
            action="store_true",
            help="overwrite existing clients' fields (default: only fill empty ones)",
        )
        parser.add_argument("--report-json", help="write the report as JSON to this path")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help='the column of a field, e.g. phone="Моб. тел." or full_name=B (repeatable)',
        )
        parser.add_argument(
            "--ignore", action="append", default=[], metavar="COLUMN", help="leave a column out"
        )
        parser.add_argument(
            "--note",
            action="append",
            default=[],
            metavar="COLUMN",
            help="keep a column as the client's note, “Column: value” a line (repeatable)",
        )
        parser.add_argument("--preset", default="", help=f"one of: {', '.join(PRESETS)}")

    def handle(self, *args, **options):
        merchant = Merchant.objects.filter(slug=options["merchant"]).first()
        if merchant is None:
            raise CommandError(f"No merchant with slug “{options['merchant']}”.")
        try:
            mapping = mapping_from_cli(
                options["map"],
                ignore=options["ignore"],
                preset=options["preset"],
                notes=options["note"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        batch, report = import_file_run(
            merchant=merchant,
            path=options["file"],
            dry_run=options["dry_run"],
            overwrite=options["overwrite"],
            mapping=mapping,
        )
        if options["report_json"]:
            data = report.as_dict() if report is not None else {"file_error": batch.message}
            data["batch_id"] = batch.pk
            data["status"] = batch.status
            with open(options["report_json"], "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, indent=1, default=str)
        if report is None:
            raise CommandError(batch.message.replace("\n", " "))
        verb = "would be" if report.dry_run else "were"
        self.stdout.write(
            f"{report.rows_total} rows: {report.created} {verb} created, {report.updated} "
            f"updated, {report.skipped} skipped, {report.rejected} rejected "
            f"({len(report.errors)} messages); unknown columns: "
            f"{', '.join(report.unknown_columns) or '—'}."
        )
        where = f"sheet “{report.sheet}”, " if report.sheet else ""
        where += f"header row {report.header_row}" if report.has_header else "no header row"
        self.stdout.write(f"Read {where}. Columns:")
        for line in report.column_reasons:
            self.stdout.write(f"  {line['text']}")
        if report.note_columns:
            self.stdout.write(f"Kept as the client's note: {', '.join(report.note_columns)}.")
