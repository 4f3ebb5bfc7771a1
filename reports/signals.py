"""Model signal receivers of the reports, connected in `reports.apps.ReportsConfig.ready`.

Imported by every process at start-up, so it imports only the reports' models."""

from .models import ClientChange


def merchant_changes_forget(sender, instance, **kwargs) -> None:
    """A deleted merchant's change rows go with it (`ClientChange` keeps plain ids, no foreign
    keys; its clients' deletion records rows while its snapshot still exists)."""
    ClientChange.objects.filter(merchant_id=instance.pk).delete()
