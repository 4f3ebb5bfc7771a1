"""Recording purchases: redemption within caps, cashback, referral rewards, tier moves,
certificate use — once per (merchant, external id), under ordered row locks.

`purchase_record` is the one entry point for a single check (cashier page, POS webhooks,
API); `purchase_record_many` applies a batch of checks in one transaction with the same
rules (history import, queued POS events, the benchmark).

Over 450 lines: one idea, one purchase's transaction. Its steps (locks, caps, cashback, referral,
tiers, certificates, batching) share the locked accounts and the prepared program; the pure rules
already live in `rules.py`, `tiers.py`, `referrals.py`, `certificates.py`."""

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Client
from loyalty.events import PURCHASES_RECORDED, event_emit_on_commit
from loyalty.ledger import InsufficientPoints, LedgerBatch, insert_rows, lock_clients
from loyalty.models import (
    Certificate,
    LedgerKind,
    PaymentType,
    Purchase,
    PurchaseLine,
    PurchaseSource,
)
from onboarding.models import Branch, Merchant, StaffMember
from onboarding.money import ZERO, q

from .certificates import certificate_check
from .errors import ClientError, IdempotencyConflict, LoyaltyError, RedemptionError
from .lines import LineInput, line_figures, lines_from_totals, lines_validate
from .locking import Snapshot, lock_with_config, rules_cached
from .referrals import chain_from_locked, referral_chains
from .refunds import pending_refunds_apply, pending_refunds_exist
from .rules import (
    FIRST_PURCHASE,
    PURCHASE,
    Rules,
    certificate_share,
    check_base,
    check_rewards,
    redemption_limits,
    referral_rewards,
)

logger = logging.getLogger(__name__)

POS_SOURCES = {PurchaseSource.EVOTOR, PurchaseSource.POSTER}


@dataclass
class PurchaseInput:
    """One check as a caller describes it (amounts in the merchant's currency)."""

    amount: Decimal
    payment_type: str
    source: str
    client: Client | None = None
    excluded_amount: Decimal = ZERO
    points_to_redeem: Decimal = ZERO
    certificate: Certificate | None = None
    occurred_at: datetime | None = None
    branch: Branch | None = None
    cashier: StaffMember | None = None
    external_id: str | None = None
    by_phone: bool = False
    raw_payload: dict | list | None = None
    # The check's items; None: the amount and its promo part as two lines.
    lines: list[LineInput] | None = None
    # A POS: the till has already taken the points, so they are booked as taken; a payment
    # that breaks the rules is flagged for review instead of refused.
    till_points: bool = False
    content_key: str = ""
    pending_refunds: bool | None = None
    # Rows written with the check when it is created, in the same statement on PostgreSQL:
    # `rows_with(result)` returns unsaved rows linked to `result.purchase` (a POS event row).
    rows_with: Callable[["PurchaseResult"], list] | None = None
    # History (migrated merchants): record the check as it happened elsewhere — points paid as
    # given, no cashback, referral or ledger movement (balances come as opening balances) —
    # and move only the client's spend, dates, purchase count and tier.
    history: bool = False


@dataclass
class PurchaseResult:
    """What a recorded (or repeated) purchase did. `created` is False for a repeat."""

    purchase: Purchase
    created: bool
    balance: Decimal | None = None
    referral_points: Decimal = ZERO
    rewarded: dict = field(default_factory=dict)  # referrer client id -> points

    @property
    def duplicate(self) -> bool:
        return not self.created

    @property
    def points_accrued(self) -> Decimal:
        return self.purchase.points_accrued

    @property
    def points_redeemed(self) -> Decimal:
        return self.purchase.points_redeemed

    @property
    def certificate_redeemed(self) -> Decimal:
        return self.purchase.certificate_redeemed


def purchase_record(
    *,
    merchant: Merchant,
    client: Client | None,
    amount,
    excluded_amount=0,
    points_to_redeem=0,
    certificate: Certificate | None = None,
    payment_type: str,
    occurred_at: datetime | None = None,
    branch: Branch | None = None,
    cashier: StaffMember | None = None,
    external_id: str | None = None,
    source: str,
    by_phone: bool = False,
    raw_payload=None,
    lines: list[LineInput] | None = None,
    till_points: bool = False,
    pending_refunds: bool | None = None,
    in_transaction: Callable[[PurchaseResult], None] | None = None,
    rows_with: Callable[[PurchaseResult], list] | None = None,
) -> PurchaseResult:
    """Record one check and everything it earns and spends; raise a LoyaltyError (and write
    nothing) if points or a certificate exceed their caps or the balance — unless
    `till_points`: then the points are booked as the till took them and the check flagged.

    Idempotent per (merchant, external_id): a repeat with the same content returns the first
    result; other content under the same id raises IdempotencyConflict. `pending_refunds`:
    whether the caller already knows that refunds wait for this sale (None: look).
    `in_transaction(result)` runs inside the purchase's transaction (a POS event row is
    committed with the purchase it records); `rows_with(result)`, for a check about to be
    created, returns unsaved rows linked to it that are written with it (in its statement on
    PostgreSQL) — nothing is written when the check turns out to be a repeat."""
    item = PurchaseInput(
        pending_refunds=pending_refunds,
        lines=lines,
        till_points=till_points,
        amount=amount,
        excluded_amount=excluded_amount,
        points_to_redeem=points_to_redeem,
        certificate=certificate,
        payment_type=payment_type,
        occurred_at=occurred_at,
        branch=branch,
        cashier=cashier,
        external_id=external_id or None,
        source=source,
        client=client,
        by_phone=by_phone,
        raw_payload=raw_payload,
        rows_with=rows_with,
    )
    try:
        hook = (lambda results: in_transaction(results[0])) if in_transaction else None
        return purchase_record_many(merchant=merchant, items=[item], in_transaction=hook)[0]
    except IntegrityError:
        # A batch's keys are read before its insert; a single check's insert ignores the
        # conflict itself. Should a concurrent post still collide, the first one won.
        if external_id:
            existing = Purchase.objects.filter(merchant=merchant, external_id=external_id).first()
            if existing is not None:
                return _repeat_result(existing, item)
        raise


def content_key(item: PurchaseInput) -> str:
    """What a repeat of the external id must repeat: client, lines, points, certificate."""
    parts = [
        str(item.client.pk if item.client is not None else ""),
        str(q(item.points_to_redeem)),
        str(item.certificate.pk if item.certificate is not None else ""),
    ]
    for line in item.lines or []:
        parts.append(f"{line.external_id}|{q(line.amount)}|{int(line.promo)}|{line.quantity:f}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _same_content(purchase: Purchase, item: PurchaseInput | None) -> None:
    """Refuse a repeat of the external id that carries other content."""
    if item is not None and purchase.content_key and purchase.content_key != item.content_key:
        raise IdempotencyConflict(
            _(
                "Purchase “%(id)s” was already recorded with other content (client, amount or "
                "lines); the repeat is refused."
            )
            % {"id": purchase.external_id}
        )


def _repeat_result(purchase: Purchase, item: PurchaseInput | None = None) -> PurchaseResult:
    _same_content(purchase, item)
    balance = None
    if purchase.client_id:
        balance = Client.objects.filter(pk=purchase.client_id).values_list("balance", flat=True)[0]
    rewarded: dict = {}
    for client_id, points in purchase.ledger_entries.filter(
        refund__isnull=True, kind__in=[LedgerKind.REFERRAL, LedgerKind.REFERRAL_BONUS]
    ).values_list("client_id", "points"):
        rewarded[client_id] = q(rewarded.get(client_id, ZERO) + points)
    return PurchaseResult(
        purchase=purchase,
        created=False,
        balance=balance,
        referral_points=q(sum(rewarded.values(), ZERO)),
        rewarded=rewarded,
    )


def purchase_record_many(
    *,
    merchant: Merchant,
    items: list[PurchaseInput],
    rules: Rules | None = None,
    in_transaction: Callable[[list[PurchaseResult]], None] | None = None,
) -> list[PurchaseResult]:
    """Record a batch of checks in one transaction (all or nothing), in the given order.

    Locks every client and referrer involved once, in primary-key order, with one statement
    that also checks the cached program is current; writes purchases, ledger entries and
    client figures with one statement each. A single check's idempotency is folded into its
    insert (ON CONFLICT DO NOTHING); a batch reads its known keys with one query first."""
    for item in items:
        _validate_input(merchant, item)
    with transaction.atomic():
        results, created, growth = _record_locked(merchant, items, rules)
        if in_transaction is not None:
            in_transaction(results)
    if growth is not None:
        # Only checks that may reach an active check-growth campaign wake the hook; history
        # (checks that happened elsewhere, before the program) earns no rewards.
        _schedule_after_purchase(
            [
                r.purchase.pk
                for r, item in created
                if not item.history
                and r.purchase.client_id is not None
                and r.purchase.amount >= growth
            ]
        )
    return results


def _validate_input(merchant: Merchant, item: PurchaseInput) -> None:
    item.amount = q(item.amount)
    item.excluded_amount = q(item.excluded_amount or 0)
    item.points_to_redeem = q(item.points_to_redeem or 0)
    if item.amount < 0:
        raise LoyaltyError(_("The check amount cannot be negative."))
    if item.excluded_amount < 0 or item.excluded_amount > item.amount:
        raise LoyaltyError(_("Promo items cannot be negative or more than the check."))
    if item.points_to_redeem < 0:
        raise RedemptionError(_("Points to pay cannot be negative."))
    if item.payment_type not in PaymentType.values:
        raise LoyaltyError(_("Unknown payment type “%(type)s”.") % {"type": item.payment_type})
    if item.client is not None and item.client.merchant_id != merchant.pk:
        raise ClientError(_("The client belongs to another merchant."))
    if item.history and (item.certificate is not None or item.points_to_redeem > item.amount):
        raise RedemptionError(_("Points paid cannot be more than the check."))
    if item.client is None and (item.points_to_redeem or item.certificate):
        raise RedemptionError(_("Points and certificates need a client."))
    if item.lines is None:
        item.lines = lines_from_totals(item.amount, item.excluded_amount)
    else:
        item.amount, item.excluded_amount = lines_validate(item.lines)
    item.content_key = content_key(item)
    for obj, label in ((item.branch, _("branch")), (item.cashier, _("cashier"))):
        if obj is not None and obj.merchant_id != merchant.pk:
            raise LoyaltyError(_("The %(what)s belongs to another merchant.") % {"what": label})
    item.occurred_at = item.occurred_at or timezone.now()


def _lock_with_chains(merchant: Merchant, client_ids: list[int]) -> tuple[Snapshot, dict]:
    """Lock the clients and their referrers (pk order) and read the configuration snapshot
    in one statement; return (snapshot, chains)."""
    snapshot = lock_with_config(merchant_id=merchant.pk, client_ids=client_ids)
    clients = snapshot.clients
    for cid in client_ids:
        if cid not in clients or clients[cid].merchant_id != merchant.pk:
            raise ClientError(_("The client belongs to another merchant."))
    for _attempt in range(5):
        fresh = {cid: chain_from_locked(cid, clients) for cid in client_ids}
        unresolved = [cid for cid, chain in fresh.items() if chain is None]
        if not unresolved:
            return snapshot, fresh
        # The tree changed between the statement's snapshot and its locks (rare): lock the
        # newcomers too.
        reread = referral_chains(unresolved)
        clients.update(lock_clients({a for chain in reread.values() for a in chain} - set(clients)))
    raise LoyaltyError(_("The referral tree is being changed; try again."))


def _known_keys(merchant_id: int, keys: list[str]) -> bool:
    """Whether any of these external ids is already recorded (one cheap indexed query)."""
    marks = ", ".join(["%s"] * len(keys))
    table = connection.ops.quote_name(Purchase._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE merchant_id = %s AND external_id IN ({marks}) LIMIT 1",
            [merchant_id, *keys],
        )
        return cursor.fetchone() is not None


def _existing(merchant: Merchant, external_id: str | None) -> Purchase | None:
    if not external_id:
        return None
    return Purchase.objects.filter(merchant=merchant, external_id=external_id).first()


def _record_locked(merchant: Merchant, items: list[PurchaseInput], rules: Rules | None):
    """(results, [(created result, its input)], lowest check-growth threshold or None)."""

    client_ids = sorted({it.client.pk for it in items if it.client is not None})
    if client_ids:
        snapshot, chains = _lock_with_chains(merchant, client_ids)
    else:  # checks without a client lock nothing and earn nothing
        snapshot, chains = Snapshot({}, None, None), {}
    clients = snapshot.clients
    # One check: its repeat is found by its insert (ON CONFLICT DO NOTHING), no read first.
    single = len(items) == 1 and bool(items[0].external_id)
    keys = [it.external_id for it in items if it.external_id]
    existing = {}
    if keys and not single and _known_keys(merchant.pk, keys):
        existing = {
            p.external_id: p
            for p in Purchase.objects.filter(merchant=merchant, external_id__in=keys)
        }
    cert_ids = sorted({it.certificate.pk for it in items if it.certificate is not None})
    certificates = {}
    if cert_ids:
        certificates = {
            c.pk: c
            for c in Certificate.objects.filter(pk__in=cert_ids)
            .order_by("pk")
            .select_for_update(of=("self",))
        }
    if rules is None and client_ids:
        rules = rules_cached(merchant, snapshot.fingerprint)
    program = rules.program if rules is not None else None
    batch = LedgerBatch(clients)
    results: list[PurchaseResult] = []
    created: list[tuple[PurchaseResult, PurchaseInput]] = []
    new_purchases: list[Purchase] = []
    seen: dict[str, PurchaseResult] = {}
    used_certificates = []
    for item in items:
        if item.external_id and item.external_id in existing:
            results.append(_repeat_result(existing[item.external_id], item))
            continue
        if item.external_id and item.external_id in seen:
            first = seen[item.external_id]
            _same_content(first.purchase, item)
            results.append(PurchaseResult(purchase=first.purchase, created=False))
            continue
        client = clients.get(item.client.pk) if item.client is not None else None
        purchase = Purchase(
            merchant=merchant,
            client=client,
            branch=item.branch,
            cashier=item.cashier,
            external_id=item.external_id,
            source=item.source,
            occurred_at=item.occurred_at,
            amount=item.amount,
            excluded_amount=item.excluded_amount,
            payment_type=item.payment_type,
            by_phone=item.by_phone,
            raw_payload=item.raw_payload,
            paid_money=item.amount,
            content_key=item.content_key,
        )
        purchase.new_lines = [
            PurchaseLine(
                purchase=purchase,
                position=position,
                external_id=(line.external_id or "")[:120],
                name=(line.name or "")[:200],
                quantity=line.quantity,
                amount=line.amount,
                promo=line.promo,
                referral_base=line.amount,
            )
            for position, line in enumerate(item.lines, start=1)
        ]
        result = PurchaseResult(purchase=purchase, created=True)
        try:
            if client is not None and item.history:
                _apply_history(
                    rules=rules, batch=batch, client=client, item=item, purchase=purchase
                )
                result.balance = client.balance
            elif client is not None:
                _apply_rules(
                    rules=rules,
                    program=program,
                    batch=batch,
                    client=client,
                    chain=chains.get(client.pk, []),
                    item=item,
                    purchase=purchase,
                    result=result,
                    certificate=certificates.get(item.certificate.pk) if item.certificate else None,
                    used_certificates=used_certificates,
                )
                result.balance = client.balance
        except LoyaltyError:
            # A repeat is answered with the first result even if the rules would now refuse
            # it (the points it paid are spent, its certificate used).
            first = _existing(merchant, item.external_id) if single else None
            if first is not None:
                return [_repeat_result(first, item)], [], None
            raise
        new_purchases.append(purchase)
        results.append(result)
        created.append((result, item))
        if item.external_id:
            seen[item.external_id] = result
    if single:
        # The purchase, its lines, the ledger entries and the client figures: one statement
        # on PostgreSQL, nothing written when the external id is already taken.
        purchase = new_purchases[0]
        lines = purchase.new_lines if lines_worth_keeping(purchase.new_lines) else []
        extra = items[0].rows_with(results[0]) if items[0].rows_with and created else []
        if not batch.flush_with(purchase, [*lines, *extra]):
            first = _existing(merchant, items[0].external_id)
            if first is None:  # the conflicting row is gone again: let the caller retry
                raise IntegrityError("purchase external id conflict")
            return [_repeat_result(first, items[0])], [], None
    else:
        for start in range(0, len(new_purchases), 500):
            insert_rows(new_purchases[start : start + 500])
        new_lines = [
            line for p in new_purchases if lines_worth_keeping(p.new_lines) for line in p.new_lines
        ]
        for start in range(0, len(new_lines), 1000):
            insert_rows(new_lines[start : start + 1000])
        batch.flush()
        extra: dict[type, list] = {}
        for r, item in created:
            for row in item.rows_with(r) if item.rows_with else []:
                extra.setdefault(type(row), []).append(row)
        for rows in extra.values():
            for start in range(0, len(rows), 500):
                insert_rows(rows[start : start + 500])
    for certificate, purchase in used_certificates:
        certificate.used_points = q(certificate.used_points + purchase.certificate_redeemed)
        if certificate.remainder_burns or certificate.used_points >= certificate.points:
            certificate.status = Certificate.Status.REDEEMED
        certificate.redeemed_at = purchase.occurred_at
        certificate.redeemed_purchase = purchase
    if used_certificates:
        Certificate.objects.bulk_update(
            [c for c, _p in used_certificates],
            ["used_points", "status", "redeemed_at", "redeemed_purchase"],
        )
    pos_keys = [
        r.purchase.external_id
        for r, i in created
        if r.purchase.source in POS_SOURCES and i.pending_refunds is not False
    ]
    if pos_keys and pending_refunds_exist(merchant=merchant, base_external_ids=pos_keys):
        pending_refunds_apply(merchant=merchant, base_external_ids=pos_keys)
    return results, created, snapshot.growth_threshold


def _apply_history(*, rules, batch, client, item, purchase) -> None:
    purchase.tier = rules.current_tier(client)
    purchase.points_redeemed = item.points_to_redeem
    purchase.paid_money = q(item.amount - item.points_to_redeem)
    line_figures(
        lines=purchase.new_lines,
        points=item.points_to_redeem,
        certificate_used=ZERO,
        promo_redeemable=True,
        promo_earns=True,
    )
    _move_client_figures(rules=rules, batch=batch, client=client, item=item)


def _move_client_figures(*, rules, batch, client, item) -> None:
    """Cached figures: spend, purchase count and dates, then the tier the new spend reaches."""
    at = item.occurred_at
    client.total_spent = q(client.total_spent + item.amount)
    client.purchases_count += 1
    if client.first_purchase_at is None or at < client.first_purchase_at:
        client.first_purchase_at = at
    if client.last_purchase_at is None or at > client.last_purchase_at:
        client.last_purchase_at = at
    new_tier = rules.next_tier(client)
    client.tier_id = new_tier.pk if new_tier is not None else client.tier_id
    batch.touch(client.pk)


def _apply_rules(
    *, rules, program, batch, client, chain, item, purchase, result, certificate, used_certificates
):
    tier = rules.current_tier(client)
    limits = redemption_limits(
        rules=rules,
        tier=tier,
        amount=item.amount,
        excluded_amount=item.excluded_amount,
        payment_type=item.payment_type,
        balance=client.balance,
    )
    points = item.points_to_redeem
    review = []
    if (points or certificate is not None) and not limits.redemption_allowed:
        if not (item.till_points and certificate is None):
            raise RedemptionError(
                _(
                    "Installment payments earn points but cannot be paid with points or "
                    "certificates."
                )
            )
        review.append(_("points taken on an installment payment"))
    if points > limits.points_cap and limits.redemption_allowed:
        if not item.till_points:
            raise RedemptionError(
                _(
                    "Points may pay at most %(cap)s here: %(percent)s%% of the eligible "
                    "%(eligible)s."
                )
                % {
                    "cap": limits.points_cap,
                    "percent": limits.cap_percent,
                    "eligible": limits.eligible,
                }
            )
        review.append(
            _("points %(points)s above the cap %(cap)s")
            % {"points": points, "cap": limits.points_cap}
        )
    if points > client.balance:
        if not item.till_points:
            raise RedemptionError(
                _("The client has only %(balance)s points.") % {"balance": client.balance}
            )
        review.append(
            _("points %(points)s above the balance %(balance)s")
            % {"points": points, "balance": client.balance}
        )
    certificate_used = ZERO
    if certificate is not None:
        if any(c.pk == certificate.pk for c, _p in used_certificates):
            raise RedemptionError(_("This certificate is already used in this batch."))
        certificate_check(certificate=certificate, client=client, at=item.occurred_at)
        certificate_used = certificate_share(
            certificate=certificate, eligible=limits.eligible, points=points
        )
        if certificate_used <= 0:
            raise RedemptionError(_("The certificate cannot pay anything on this check."))
        used_certificates.append((certificate, purchase))
        purchase.certificate = certificate
    paid = q(item.amount - points - certificate_used)
    lines = purchase.new_lines
    # Points the till took beyond the rules paid the regular items first, then the rest.
    base = check_base(
        rules=rules,
        lines=lines,
        points=min(points, limits.eligible) if item.till_points else points,
        certificate_used=certificate_used,
    )
    if item.till_points and points > limits.eligible:
        _spill(lines, q(points - limits.eligible))
        base = q(
            sum(
                (
                    max(ln.amount - ln.points_paid - ln.certificate_paid, ZERO)
                    for ln in lines
                    if not ln.promo or program is None or program.promo_earns_points
                ),
                ZERO,
            )
        )
    accrued, referral_base = check_rewards(rules=rules, tier=tier, lines=lines, base=base)
    purchase.tier = tier
    purchase.points_redeemed = points
    purchase.certificate_redeemed = certificate_used
    purchase.paid_money = paid
    purchase.points_accrued = accrued
    purchase.review_reason = "; ".join(str(r) for r in review)[:300]
    at = item.occurred_at
    try:
        if points:
            entry = batch.post(
                client_id=client.pk,
                kind=LedgerKind.REDEMPTION,
                points=-points,
                purchase=purchase,
                created_at=at,
                allow_short=item.till_points,
            )
            if entry.uncovered:
                entry.reason = _("Paid at the till beyond the balance: %(short)s uncovered") % {
                    "short": entry.uncovered
                }
        if accrued:
            batch.post(
                client_id=client.pk,
                kind=LedgerKind.ACCRUAL,
                points=accrued,
                purchase=purchase,
                created_at=at,
            )
    except InsufficientPoints as exc:
        raise RedemptionError(str(exc)) from None
    rewarded = {}
    event = FIRST_PURCHASE if client.purchases_count == 0 else PURCHASE
    for ancestor, level, kind, reward in referral_rewards(
        rules=rules, chain=chain, event=event, referral_base=referral_base
    ):
        batch.post(
            client_id=ancestor,
            kind=kind,
            points=reward,
            purchase=purchase,
            referral_level=level,
            created_at=at,
        )
        rewarded[ancestor] = q(rewarded.get(ancestor, ZERO) + reward)
    result.rewarded = rewarded
    result.referral_points = q(sum(rewarded.values(), ZERO))
    _move_client_figures(rules=rules, batch=batch, client=client, item=item)


def lines_worth_keeping(lines) -> bool:
    """A check of one regular item with no id and quantity 1 is its purchase: that line says
    nothing the purchase does not (a refund rebuilds it from the purchase's totals), so the
    hot path skips its insert. Every other check keeps its lines."""
    if len(lines) != 1:
        return True
    line = lines[0]
    return bool(line.promo or line.external_id or line.quantity != 1)


def _spill(lines, extra) -> None:
    """Points the till took beyond what the eligible items allow: booked on the lines that
    still have money on them, promo last, so the check's line shares add up."""
    for line in sorted(lines, key=lambda ln: ln.promo):
        room = max(line.amount - line.points_paid - line.certificate_paid, ZERO)
        take = min(room, extra)
        line.points_paid = q(line.points_paid + take)
        extra = q(extra - take)
        if not extra:
            return


def _schedule_after_purchase(purchase_ids: list[int]) -> None:
    """Announce the committed purchases to whoever subscribed at start-up (campaigns: check
    growth); the engine does not know who listens (see loyalty.events)."""
    event_emit_on_commit(PURCHASES_RECORDED, purchase_ids)
