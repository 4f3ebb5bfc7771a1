"""`manage.py program_forecast SLUG [--draft ID ...] [--months 12] --format json|html [-o PATH]`"""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from loyalty.forecast.models import ProgramDraft
from loyalty.forecast.service import ForecastError, forecast_html, forecast_run
from onboarding.models import Merchant


class Command(BaseCommand):
    help = (
        "Forecast a program draft (or the current program) on the merchant's purchase history "
        "of the last N months, beside the previous direct discount."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument(
            "--draft", type=int, action="append", default=[], help="draft id (repeat to compare)"
        )
        parser.add_argument("--months", type=int, default=12)
        parser.add_argument("--format", choices=["json", "html"], default="json")
        parser.add_argument("-o", "--output", help="write to this file instead of stdout")

    def handle(self, *args, slug, draft, months, format, output=None, **options):  # noqa: A002
        merchant = Merchant.objects.filter(slug=slug).first()
        if merchant is None:
            raise CommandError(f"No merchant with slug {slug!r}.")
        drafts = list(ProgramDraft.objects.filter(merchant=merchant, pk__in=draft))
        missing = sorted(set(draft) - {d.pk for d in drafts})
        if missing:
            raise CommandError(f"No draft {missing} of merchant {slug!r}.")
        drafts.sort(key=lambda d: draft.index(d.pk))
        try:
            fc = forecast_run(merchant=merchant, drafts=drafts, months=months)
        except (ForecastError, ValidationError) as exc:
            raise CommandError("; ".join(getattr(exc, "messages", [str(exc)]))) from exc
        if format == "json":
            text = json.dumps(fc, ensure_ascii=False, indent=2, default=str)
        else:
            text = forecast_html(fc)
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
            self.stderr.write(f"Wrote {output}")
        else:
            self.stdout.write(text)
