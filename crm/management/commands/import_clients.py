"""`python manage.py import_clients FILE --merchant SLUG [--dry-run] [--overwrite] [--report-json PATH]`

Exit 0 when the file was processed (row errors included, listed in the report); non-zero with
a one-line message when it was not (unknown merchant, unreadable file, no phone column, …)."""

import json

from django.core.management.base import BaseCommand, CommandError

from crm.importing import import_file_run
from onboarding.models import Merchant


class Command(BaseCommand):
    help = "Import a client base (CSV or XLSX) into a merchant."

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

    def handle(self, *args, **options):
        merchant = Merchant.objects.filter(slug=options["merchant"]).first()
        if merchant is None:
            raise CommandError(f"No merchant with slug “{options['merchant']}”.")
        batch, report = import_file_run(
            merchant=merchant,
            path=options["file"],
            dry_run=options["dry_run"],
            overwrite=options["overwrite"],
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
