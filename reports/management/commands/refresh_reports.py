"""`manage.py refresh_reports [--merchant SLUG] [--all] [--full]` — bring the daily rollup and
the client-level snapshot up to date. Nightly, merchants with at least
REPORTS_ROLLUP_MIN_PURCHASES purchases are refreshed (smaller ones are always computed live);
--all refreshes every one. A merchant with a snapshot gets only its changed days rewritten;
--full rebuilds every day (also what picks up deleted purchases and changed client channels)."""

from django.core.management.base import BaseCommand, CommandError

from onboarding.models import Merchant
from reports.rollup import refresh_due_merchants, reports_refresh


class Command(BaseCommand):
    help = "Rebuild the Point-B daily rollup and snapshot."

    def add_arguments(self, parser):
        parser.add_argument("--merchant", help="slug of one merchant")
        parser.add_argument("--all", action="store_true", help="every merchant, large or small")
        parser.add_argument(
            "--full", action="store_true", help="rebuild every day instead of the changed ones"
        )

    def handle(self, *args, merchant=None, all=False, full=False, **options):  # noqa: A002
        if merchant:
            found = Merchant.objects.filter(slug=merchant).first()
            if found is None:
                raise CommandError(f"No merchant with slug {merchant!r}.")
            merchants = [found]
        elif all:
            merchants = list(Merchant.objects.order_by("pk"))
        else:
            merchants = refresh_due_merchants()
        for m in merchants:
            snap = reports_refresh(merchant=m, full=full)
            self.stdout.write(
                f"{m.slug}: rollup through {snap.rollup_through} "
                f"({snap.timings.get('mode', 'full')}), "
                f"{snap.purchases_total} purchases, {snap.took_seconds:.1f} s"
            )
