"""`python manage.py undo_import RUN_ID [--dry-run] [--user USERNAME]`

Undo an import run from the command line with the admin's service (`crm.importing.undo`): the
same undo period (IMPORT_UNDO_DAYS), the same rules and the same list of kept clients. `--dry-run`
prints what the undo would do and changes nothing. `--user` acts as that user: they must be
allowed to delete clients and see the run's merchant, and the undo is logged under their name.

Exit 0 when the run was undone (or, with --dry-run, could be); non-zero with a one-line message
when it cannot be (unknown run, a dry run, already undone, past the undo period, …)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from crm.importing import ImportFileError
from crm.importing.undo import import_run_undo, undo_summary
from crm.models import ImportBatch


class Command(BaseCommand):
    help = "Undo an import run (within the undo period)."

    def add_arguments(self, parser):
        parser.add_argument("run_id", type=int, help="the import run's id (Admin → Import runs)")
        parser.add_argument(
            "--dry-run", action="store_true", help="show what the undo would do, change nothing"
        )
        parser.add_argument("--user", default="", help="act as this user (checked, logged)")

    def handle(self, *args, **options):
        batch = ImportBatch.objects.select_related("merchant").filter(pk=options["run_id"]).first()
        if batch is None:
            raise CommandError(f"No import run {options['run_id']}.")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user “{options['user']}”.")
            if not user.has_perm("crm.delete_client"):
                raise CommandError(f"User “{user.username}” may not delete clients.")
        try:
            outcome = import_run_undo(batch=batch, user=user, dry_run=options["dry_run"])
        except ImportFileError as exc:
            raise CommandError(str(exc).replace("\n", " ")) from None
        if options["dry_run"]:
            self.stdout.write(
                f"Dry run of undoing import run {batch.pk} ({batch.file_name}, "
                f"{batch.merchant.slug}): nothing changed. It would remove "
                f"{outcome['removed']} clients, restore {outcome['restored']}, reverse "
                f"{outcome['reversed']} opening balances and keep {len(outcome['kept'])}."
            )
        else:
            self.stdout.write(f"Import run {batch.pk} ({batch.file_name}): {undo_summary(outcome)}")
        if outcome["uncovered"] not in ("0", "0.00"):
            self.stdout.write(f"Points already spent, not covered: {outcome['uncovered']}.")
        if outcome["kept"]:
            self.stdout.write("Kept (activity since the import):")
            for item in outcome["kept"]:
                self.stdout.write(f"  {item['phone']} — {', '.join(item['why'])}")
