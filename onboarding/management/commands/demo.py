from django.core.management.base import BaseCommand

from onboarding.demo import DEMO_PASSWORD, demo_load


class Command(BaseCommand):
    help = "Create the five reference merchants with synthetic clients and purchases (idempotent)."

    def handle(self, *args, **options):
        self.stdout.write("Loading demo data…")
        logins = demo_load(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"\nDemo logins (password for all: {DEMO_PASSWORD}):"))
        for login in logins:
            merchants = ", ".join(login.merchants) or "all merchants"
            self.stdout.write(f"  {login.username:<32} {login.role:<11} {merchants}")
        self.stdout.write(
            "Open http://127.0.0.1:8000/admin/ (specialists, partners, admin) "
            "or http://127.0.0.1:8000/ (owners, cashiers)."
        )
