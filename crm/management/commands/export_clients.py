"""`python manage.py export_clients --merchant SLUG --format csv|xlsx|json [-o PATH]`

Writes to PATH, or to standard output without -o. Formula-looking text is escaped."""

import sys

from django.core.management.base import BaseCommand, CommandError

from crm.exporting import FORMATS, clients_export
from onboarding.models import Merchant


class Command(BaseCommand):
    help = "Export a merchant's clients as CSV, XLSX or JSON."

    def add_arguments(self, parser):
        parser.add_argument("--merchant", required=True, help="merchant slug")
        parser.add_argument("--format", choices=FORMATS, default="csv")
        parser.add_argument("-o", "--output", help="file to write (default: standard output)")

    def handle(self, *args, **options):
        merchant = Merchant.objects.filter(slug=options["merchant"]).first()
        if merchant is None:
            raise CommandError(f"No merchant with slug “{options['merchant']}”.")
        if options["output"]:
            try:
                with open(options["output"], "wb") as out:
                    count = clients_export(merchant=merchant, fmt=options["format"], out=out)
            except OSError as exc:
                raise CommandError(f"Cannot write {options['output']}: {exc}") from None
            self.stderr.write(f"{count} clients written to {options['output']}.")
            return
        count = clients_export(merchant=merchant, fmt=options["format"], out=sys.stdout.buffer)
        sys.stdout.buffer.flush()
        self.stderr.write(f"{count} clients exported.")
