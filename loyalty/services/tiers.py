"""Manual tier assignment: a locked tier does not move with spend until it is released."""

from django.db import transaction
from django.utils.translation import gettext as _

from crm.models import Client
from loyalty.ledger import lock_clients, save_clients
from loyalty.models import Tier
from onboarding.models import Merchant

from .errors import ClientError
from .rules import load_rules


def client_tier_assign(*, merchant: Merchant, client: Client, tier: Tier | None) -> Client:
    """Assign `tier` by hand and lock it (None: release the lock and recompute from spend)."""
    if client.merchant_id != merchant.pk:
        raise ClientError(_("The client belongs to another merchant."))
    rules = load_rules(merchant)
    if tier is not None and rules.tier_by_id(tier.pk) is None:
        raise ClientError(_("The tier belongs to another program."))
    with transaction.atomic():
        me = lock_clients([client.pk])[client.pk]
        if tier is None:
            me.tier_locked = False
            me.tier_id = rules.tier_for_spend(me.total_spent).pk if rules.tiers else None
        else:
            me.tier_locked = True
            me.tier_id = tier.pk
        Client.objects.filter(pk=me.pk).update(tier_locked=me.tier_locked)
        save_clients([me])
    client.refresh_from_db()
    return client
