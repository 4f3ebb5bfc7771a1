"""Undo an import run within IMPORT_UNDO_DAYS: the clients it created that show no activity
since are removed; the fields it filled or overwrote on existing clients are put back (unless
changed again since); the opening balances it credited to clients that stay are reversed through
the points ledger (its lock order and never-below-zero rule: points already spent are recorded
as not covered). Clients it created that have activity since (a purchase, points, a message, a
review, a referral, an edit, …) are kept and listed. The undo is logged in the admin's history.

A run records what it needs while it writes: its clients are created with the run's timestamp
(`report["written_at"]`), and `RecordingWriter` keeps each updated client's fields before and
after, stored as ImportPriorValue rows in the run's transaction."""

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from crm.models import Client, ClientSource, ImportBatch, ImportPriorValue
from crm.opening_balances import opening_balances
from onboarding.access import visible_merchants

from .errors import ImportFileError
from .writer import ClientWriter

logger = logging.getLogger(__name__)


class RecordingWriter(ClientWriter):
    """The bulk writer, also keeping {client id: (fields before, fields after)} of every client
    it updates, by attribute name (read from the look-up it does anyway: no extra query)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.prior: dict[int, tuple] = {}
        self._before: dict[int, tuple] = {}

    def _existing(self, phones):
        found = super()._existing(phones)
        self._before = dict(found.values())
        return found

    def _update_clients(self, updates):
        for client_id, values in updates:
            if client_id not in self.prior:
                self.prior[client_id] = (self._before.get(client_id), values)
        super()._update_clients(updates)


def _json(value):
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value) if isinstance(value, Decimal) else value


def _from_json(name: str, value):
    """A recorded value back as the Client attribute takes it (by the model field's type)."""
    model_field = Client._meta.get_field(name)
    if value is None:
        return None if model_field.null else model_field.get_default()
    if model_field.get_internal_type() == "DateField":
        return dt.date.fromisoformat(value) if value else None
    return model_field.to_python(value)


def prior_values_save(*, batch_id: int, prior: dict) -> None:
    """Store a run's before/after values (inside the run's transaction)."""
    rows = []
    for client_id, (before, after) in prior.items():
        if before is None:
            continue
        values = {
            name: [_json(before[name]), _json(value)]
            for name, value in after.items()
            if before.get(name) != value
        }
        if values:
            rows.append(ImportPriorValue(batch_id=batch_id, client_id=client_id, values=values))
    ImportPriorValue.objects.bulk_create(rows, batch_size=2000)


def undo_deadline(batch: ImportBatch):
    return (batch.finished_at or batch.created_at) + dt.timedelta(days=settings.IMPORT_UNDO_DAYS)


def import_run_can_undo(batch: ImportBatch, *, now=None) -> str:
    """ "" when the run can be undone, else the reason it cannot."""
    now = now or timezone.now()
    if batch.dry_run or batch.status != ImportBatch.Status.DONE:
        return _("Only a finished import (not a dry run) can be undone.")
    if batch.undone_at is not None:
        return _("This import was already undone.")
    if not (batch.report or {}).get("written_at"):
        return _("This import was run before undo was available.")
    if now > undo_deadline(batch):
        return _(
            "Too late to undo: the undo period (days) is %(days)s; this import finished on %(date)s."
        ) % {
            "days": settings.IMPORT_UNDO_DAYS,
            "date": timezone.localtime(batch.finished_at).date().isoformat(),
        }
    return ""


def _activity(client_ids: list[int], *, written_at, finished_at) -> dict[int, list[str]]:
    """{client id: [what happened since]} for the given clients, one query per relation."""
    found: dict[int, list[str]] = {}
    own_rows = opening_balances().own_rows(created_at=written_at)
    for relation in Client._meta.related_objects:
        model, name = relation.related_model, relation.field.name
        rows = model.objects.filter(**{f"{name}__in": client_ids})
        if model in own_rows:
            rows = rows.exclude(own_rows[model])
        label = str(model._meta.verbose_name_plural)
        if model is Client:
            label = _("clients they referred")
        for client_id in rows.values_list(name, flat=True).distinct():
            found.setdefault(client_id, []).append(label)
    # The run's own writes (clients, then their opening balances) end before it finished.
    edited = Client.objects.filter(pk__in=client_ids, updated_at__gt=finished_at)
    for client_id in edited.values_list("pk", flat=True):
        found.setdefault(client_id, []).append(_("edited since the import"))
    joined = Client.objects.filter(pk__in=client_ids, joined_at__isnull=False)
    for client_id in joined.values_list("pk", flat=True):
        found.setdefault(client_id, []).append(_("joined the program"))
    return found


def undo_summary(outcome: dict) -> str:
    return _(
        "Import undone. Clients removed: %(removed)s; restored: %(restored)s; opening "
        "balances reversed: %(reversed)s; kept (activity since): %(kept)s."
    ) % {**outcome, "kept": len(outcome["kept"])}


def import_run_undo(*, batch: ImportBatch, user, dry_run: bool = False) -> dict:
    """Undo a finished import run (see the module doc). Returns the outcome, also stored in the
    run's report under "undo". Raises ImportFileError (nothing changed) when it cannot.

    `dry_run` does the whole undo in its transaction and rolls it back: the outcome is exactly
    what an undo would do now, and nothing is changed or logged."""
    if user is not None and not visible_merchants(user).filter(pk=batch.merchant_id).exists():
        raise ImportFileError(_("You cannot import into this merchant."))
    with transaction.atomic():
        batch = ImportBatch.objects.select_for_update().select_related("merchant").get(pk=batch.pk)
        reason = import_run_can_undo(batch)
        if reason:
            raise ImportFileError(reason)
        written_at = parse_datetime(batch.report["written_at"])
        created = list(
            Client.objects.filter(
                merchant_id=batch.merchant_id,
                created_at=written_at,
                source=ClientSource.IMPORT,
                imported=True,
            ).values_list("pk", "phone")
        )
        created_ids = [pk for pk, _phone in created]
        active = (
            _activity(created_ids, written_at=written_at, finished_at=batch.finished_at)
            if created_ids
            else {}
        )
        removable = [pk for pk in created_ids if pk not in active]
        kept = [{"phone": phone, "why": active[pk]} for pk, phone in created if pk in active]

        # Opening balances of clients that stay go back through the ledger.
        reversed_count, uncovered = opening_balances().reverse(
            merchant_id=batch.merchant_id,
            created_at=written_at,
            removed_client_ids=removable,
            reason=_("Import of %(file)s undone") % {"file": batch.file_name},
            user_id=getattr(user, "pk", None),
        )

        # Fields the run filled go back, where nobody changed them since.
        restored = 0
        changed_clients, restored_fields = [], set()
        priors = ImportPriorValue.objects.filter(batch=batch).select_related("client")
        for prior in priors:
            client, touched = prior.client, False
            for field_name, (before, after) in prior.values.items():
                if _json(getattr(client, field_name)) != after:
                    continue  # changed again since the import: the newer value stays
                setattr(client, field_name, _from_json(field_name, before))
                restored_fields.add(field_name)
                touched = True
            if touched:
                changed_clients.append(client)
        if changed_clients:
            Client.objects.bulk_update(changed_clients, sorted(restored_fields), batch_size=1000)
            restored = len(changed_clients)

        removed = Client.objects.filter(pk__in=removable).delete()[1].get("crm.Client", 0)
        outcome = {
            "removed": removed,
            "restored": restored,
            "reversed": reversed_count,
            "uncovered": str(uncovered),
            "kept": kept,
        }
        if dry_run:
            transaction.set_rollback(True)
            return {**outcome, "dry_run": True}
        now = timezone.now()
        report = dict(batch.report)
        report["undo"] = outcome
        ImportBatch.objects.filter(pk=batch.pk).update(
            undone_at=now, undone_by=user if getattr(user, "pk", None) else None, report=report
        )
        if getattr(user, "pk", None):
            LogEntry.objects.log_actions(
                user_id=user.pk,
                queryset=[batch],
                action_flag=CHANGE,
                change_message=undo_summary(outcome),
                single_object=True,
            )
    logger.info("import run %s undone by %s: %s", batch.pk, getattr(user, "pk", None), outcome)
    return outcome
