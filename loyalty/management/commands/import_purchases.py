"""python manage.py import_purchases FILE --merchant SLUG [--dry-run] [--report-json PATH]"""

import json

from django.core.management.base import BaseCommand, CommandError

from crm.importing.errors import ImportFileError
from loyalty.importing_history import purchases_import
from onboarding.models import Merchant


class Command(BaseCommand):
    help = "Import purchase history (CSV/XLSX: phone, date, amount, points paid, branch)."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--merchant", required=True, help="merchant slug")
        parser.add_argument("--dry-run", action="store_true", help="check only, write nothing")
        parser.add_argument("--report-json", help="write the report (with row errors) here")

    def handle(self, *args, file, merchant, dry_run, report_json, **options):
        try:
            target = Merchant.objects.get(slug=merchant)
        except Merchant.DoesNotExist:
            raise CommandError(f"No merchant with slug “{merchant}”.") from None
        try:
            report = purchases_import(merchant=target, path=file, dry_run=dry_run)
        except (ImportFileError, OSError) as exc:
            raise CommandError(str(exc)) from None
        data = report.as_dict()
        if report_json:
            with open(report_json, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, indent=2)
        self.stdout.write(
            f"rows {report.rows_total}: created {report.created}, skipped {report.skipped}, "
            f"rejected {report.rejected}" + (" (dry run)" if dry_run else "")
        )
        for error in report.errors[:20]:
            self.stdout.write(f"  row {error['row']}: {error['message']}")
