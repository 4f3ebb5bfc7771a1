from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.seeding import DEMO_PASSWORD, demo_load, demo_refusal

# The exit status of a refusal, so `make run` can serve a database the demo must not touch.
REFUSED = 3


class Command(BaseCommand):
    help = (
        "Create the five reference merchants with synthetic clients and purchases (idempotent). "
        "Runs only with DEBUG or --force, and never on a database with merchants of its own."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="load with DEBUG off (a local machine; the demo's admin password is public)",
        )

    def handle(self, *args, **options):
        refusal = demo_refusal(debug=settings.DEBUG, force=options["force"])
        if refusal:
            raise CommandError(refusal, returncode=REFUSED)
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
