"""`manage.py merchant_report SLUG [--format json|html] [-o PATH] [--date YYYY-MM-DD]`"""

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from onboarding.models import Merchant
from reports.casestudy import case_study_html, case_study_json


class Command(BaseCommand):
    help = "Print the merchant's case-study one-pager (Point A, program, actions, Point B)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--format", choices=["json", "html"], default="json")
        parser.add_argument("-o", "--output", help="write to this file instead of stdout")
        parser.add_argument("--date", help="figures as of this local date (default: today)")

    def handle(self, *args, slug, format, output=None, date=None, **options):  # noqa: A002
        merchant = Merchant.objects.filter(slug=slug).first()
        if merchant is None:
            raise CommandError(f"No merchant with slug {slug!r}.")
        today = self._date(date)
        if format == "json":
            text = json.dumps(
                case_study_json(merchant=merchant, today=today), ensure_ascii=False, indent=2
            )
        else:
            text = case_study_html(merchant=merchant, today=today)
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
            self.stderr.write(f"Wrote {output}")
        else:
            self.stdout.write(text)

    @staticmethod
    def _date(raw):
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError as exc:
            raise CommandError(f"--date must be YYYY-MM-DD, got {raw!r}.") from exc
