"""Joining the program (a contact becomes a digitised member): welcome points once, and the
referrer's one-time bonus when the program pays it on registration."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Client, ClientSource
from crm.phones import normalize_phone
from loyalty.events import CLIENTS_JOINED, event_emit_on_commit
from loyalty.ledger import LedgerBatch, lock_clients, movement_apply
from loyalty.ledger.batch import new_entry
from loyalty.ledger.shapes import new_instance
from loyalty.models import LedgerEntry, LedgerKind
from onboarding.models import Merchant
from onboarding.money import ZERO, q

from .errors import ClientError
from .referrals import referrer_assign
from .rules import JOINED, Rules, load_rules, referral_rewards


@dataclass
class JoinResult:
    client: Client
    joined: bool  # False if the client had already joined
    welcome_points: Decimal = ZERO
    referral_bonus: Decimal = ZERO


@dataclass(frozen=True)
class JoinedValues:
    tier_id: int | None  # the client's tier once joined
    welcome_points: Decimal  # the welcome entry's points (0: none)


def joined_values(
    *, rules: Rules, tier_id: int | None, total_spent: Decimal, welcomed: bool
) -> JoinedValues:
    """What joining gives a client under `rules`, the one home of both rules: a client with no
    tier enters at the tier its spend reaches, and the welcome points are credited once per
    client, ever (`welcomed`: it already has its welcome entry)."""
    if tier_id is None and rules.tiers:
        tier_id = rules.tier_for_spend(total_spent).pk
    points = rules.welcome_points if rules.welcome_points > 0 and not welcomed else ZERO
    return JoinedValues(tier_id=tier_id, welcome_points=points)


def client_join(
    *, merchant: Merchant, client: Client, joined_at: datetime | None = None
) -> JoinResult:
    """Make `client` a digitised member: set joined_at, credit the welcome points (once per
    client, ever) and, if the program pays the referral bonus on registration, credit the
    direct referrer. A repeat changes nothing. Once committed, the joining is announced
    (loyalty.events.CLIENTS_JOINED: the welcome campaign)."""
    if client.merchant_id != merchant.pk:
        raise ClientError(_("The client belongs to another merchant."))
    with transaction.atomic():
        locked = lock_clients([client.pk])
        me = locked[client.pk]
        if me.referred_by_id:
            locked = lock_clients([client.pk, me.referred_by_id])
            me = locked[client.pk]
        if me.joined_at is not None:
            return JoinResult(client=me, joined=False)
        at = joined_at or timezone.now()
        rules = load_rules(merchant)
        batch = LedgerBatch(locked)
        me.joined_at = at
        batch.touch(me.pk)
        result = JoinResult(client=me, joined=True)
        already = LedgerEntry.objects.filter(client_id=me.pk, kind=LedgerKind.WELCOME).exists()
        joined = joined_values(
            rules=rules, tier_id=me.tier_id, total_spent=me.total_spent, welcomed=already
        )
        if joined.welcome_points > 0:
            batch.post(
                client_id=me.pk,
                kind=LedgerKind.WELCOME,
                points=joined.welcome_points,
                created_at=at,
            )
            result.welcome_points = q(joined.welcome_points)
        chain = [me.referred_by_id] if me.referred_by_id in locked else []
        for ancestor, level, kind, points in referral_rewards(
            rules=rules, chain=chain, event=JOINED
        ):
            batch.post(
                client_id=ancestor,
                kind=kind,
                points=points,
                referral_level=level,
                reason=_("Friend joined: %(phone)s") % {"phone": me.phone},
                created_at=at,
            )
            result.referral_bonus = points
        me.tier_id = joined.tier_id
        batch.flush()
        event_emit_on_commit(CLIENTS_JOINED, [me.pk])
    client.refresh_from_db()
    result.client = client
    return result


def client_register(
    *,
    merchant: Merchant,
    phone: str,
    full_name: str = "",
    referrer: Client | None = None,
    source: str = ClientSource.ORGANIC,
    joined_at: datetime | None = None,
) -> JoinResult:
    """Register a new member at the till (phone in any spelling) and join them; an existing
    client with this phone is joined instead of duplicated."""
    e164 = normalize_phone(phone, merchant.country)
    client = Client.objects.filter(merchant=merchant, phone=e164).first()
    if client is None:
        client = Client.objects.create(
            merchant=merchant,
            phone=e164,
            full_name=full_name,
            source=ClientSource.REFERRAL if referrer else source,
        )
        if referrer is not None:
            referrer_assign(client=client, referrer=referrer)
    return client_join(merchant=merchant, client=client, joined_at=joined_at)


def client_enrol(
    *, merchant: Merchant, phone: str, source: str, joined_at: datetime, rules: Rules
) -> Client | None:
    """A phone (E.164) no client of the merchant has, as a new member in one write: the
    client row already joined — at the entry tier, the welcome points as its balance — and
    the welcome ledger entry (one statement on PostgreSQL), then the joining announced as
    `client_join` announces it. What `client_register` and `client_join` do for a new phone
    without a referrer, without their reads and lock: a row this transaction inserts is its
    own. `rules` are the merchant's current rules. None, with nothing written, when a client
    with this phone was created meanwhile (the caller then joins that one)."""
    client = new_instance(
        Client, {"phone": phone, "source": source, "joined_at": joined_at}, {"merchant": merchant}
    )
    # A new row: no tier yet, no welcome entry yet.
    joined = joined_values(
        rules=rules, tier_id=None, total_spent=client.total_spent, welcomed=False
    )
    client.tier_id = joined.tier_id
    entries = []
    if joined.welcome_points > 0:
        points, client.balance, _uncovered = movement_apply(
            Decimal(client.balance), joined.welcome_points, allow_short=False
        )
        values = {
            "merchant_id": merchant.pk,
            "kind": LedgerKind.WELCOME,
            "points": points,
            "uncovered": ZERO,
            "created_at": joined_at,
        }
        entries.append(new_entry(values, {"client": client}))
    with transaction.atomic():
        # A unique-key conflict (the phone taken since the caller looked) writes nothing.
        if not LedgerBatch({}).flush_with(client, entries):
            return None
        event_emit_on_commit(CLIENTS_JOINED, [client.pk])
    return client
