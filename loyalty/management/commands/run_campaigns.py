"""`run_campaigns [--date YYYY-MM-DD] [--merchant SLUG] [--full]`: run one campaign day now."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from loyalty.campaigns.run import campaigns_run_day
from loyalty.tasks import deliver_pending_outbox
from onboarding.models import Merchant


class Command(BaseCommand):
    help = (
        "Run the automated campaigns and expiry for one day (the merchant's today by default; "
        "a past date back-fills a missed day) and print what was issued. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="local day to run, YYYY-MM-DD (default: today)")
        parser.add_argument("--merchant", help="merchant slug (default: every merchant)")
        parser.add_argument(
            "--full",
            action="store_true",
            help="run every rule even if the day already ran (after client data was fixed)",
        )
        parser.add_argument(
            "--no-deliver",
            action="store_true",
            help="only write outbox messages; leave delivery to the workers",
        )

    def handle(self, *args, **options):
        day = None
        if options["date"]:
            try:
                day = date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(f"--date must be YYYY-MM-DD, got {options['date']!r}") from exc
        merchants = Merchant.objects.order_by("slug")
        if options["merchant"]:
            merchants = merchants.filter(slug=options["merchant"])
            if not merchants.exists():
                raise CommandError(f"No merchant with slug {options['merchant']!r}")
        total = 0
        for merchant in merchants:
            if day is not None and day > merchant.local_today():
                raise CommandError(
                    f"{day} has not come yet for {merchant.slug} "
                    f"(today there is {merchant.local_today()})"
                )
            report = campaigns_run_day(merchant=merchant, day=day, full=options["full"])
            total += report.issued
            self.stdout.write(f"{merchant.slug} {report.day}:")
            for line in report.campaigns:
                outcome = line.outcome
                self.stdout.write(
                    f"  {line.kind:<14} {line.name}: issued {outcome.issued} "
                    f"({outcome.points} points, {outcome.certificates} certificates; "
                    f"{line.candidates} candidates)"
                )
                if outcome.left_out:
                    ids = ", ".join(str(i) for i in sorted(outcome.left_out)[:50])
                    more = len(outcome.left_out) - 50
                    self.stdout.write(
                        f"    monthly budget reached: {len(outcome.left_out)} left out "
                        f"(client ids {ids}{f' and {more} more' if more > 0 else ''})"
                    )
            exp = report.expiry
            self.stdout.write(
                f"  expiry: {exp.clients_expired} balances ({exp.points_expired} points), "
                f"{exp.gifts_burned} gifts burned ({exp.points_burned} points), "
                f"{exp.certificates_expired} certificates"
            )
            if report.message_ids and not options["no_deliver"]:
                deliver_pending_outbox.delay(merchant_id=merchant.pk)
        self.stdout.write(f"issued {total}")
