"""Recording purchases: redemption within caps, cashback, referral rewards, tier moves,
certificate use — once per (merchant, external id), under ordered row locks.

`purchase_record` is the one entry point for a single check (cashier page, POS webhooks,
API); `purchase_record_many` applies a batch of checks in one transaction with the same
rules (history import, queued POS events, the benchmark).

This module is the transaction: locks, repeats, the writes and what follows a commit. A check's
input, result and idempotency live in `purchase_input.py`; the rules applied to one check
(caps, cashback, referral, tiers, certificates) in `purchase_rules.py`; the pure arithmetic in
`rules.py`, `tiers.py`, `referrals.py`, `certificates.py`."""

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from crm.models import Client
from loyalty.events import PURCHASES_RECORDED, event_emit_on_commit
from loyalty.ledger import LedgerBatch, insert_rows, lock_clients
from loyalty.ledger.shapes import new_instance
from loyalty.models import (
    Certificate,
    Purchase,
    PurchaseLine,
    PurchaseSource,
)
from onboarding.models import Branch, Merchant, StaffMember
from onboarding.money import q

from .errors import ClientError, LoyaltyError
from .lines import LineInput
from .locking import Snapshot, lock_with_config, rules_cached
from .pos_refunds import pending_refunds_apply, pending_refunds_exist
from .purchase_input import (
    PurchaseInput,
    PurchaseResult,
    existing_purchase,
    known_keys,
    repeat_result,
    same_content,
    validate_input,
)
from .purchase_rules import apply_history, apply_rules, lines_worth_keeping
from .referrals import chain_from_locked, referral_chains
from .rules import Rules

logger = logging.getLogger(__name__)

POS_SOURCES = {PurchaseSource.EVOTOR, PurchaseSource.POSTER}


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
                return repeat_result(existing, item)
        raise


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
        validate_input(merchant, item)
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
    if keys and not single and known_keys(merchant.pk, keys):
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
            results.append(repeat_result(existing[item.external_id], item))
            continue
        if item.external_id and item.external_id in seen:
            first = seen[item.external_id]
            same_content(first.purchase, item)
            results.append(PurchaseResult(purchase=first.purchase, created=False))
            continue
        client = clients.get(item.client.pk) if item.client is not None else None
        purchase = new_instance(
            Purchase,
            {
                "external_id": item.external_id,
                "source": item.source,
                "occurred_at": item.occurred_at,
                "amount": item.amount,
                "excluded_amount": item.excluded_amount,
                "payment_type": item.payment_type,
                "by_phone": item.by_phone,
                "raw_payload": item.raw_payload,
                "paid_money": item.amount,
                "content_key": item.content_key,
            },
            {
                "merchant": merchant,
                "client": client,
                "branch": item.branch,
                "cashier": item.cashier,
            },
        )
        purchase.new_lines = [
            new_instance(
                PurchaseLine,
                {
                    "position": position,
                    "external_id": (line.external_id or "")[:120],
                    "name": (line.name or "")[:200],
                    "quantity": line.quantity,
                    "amount": line.amount,
                    "promo": line.promo,
                    "referral_base": line.amount,
                },
                {"purchase": purchase},
            )
            for position, line in enumerate(item.lines, start=1)
        ]
        result = PurchaseResult(purchase=purchase, created=True)
        try:
            if client is not None and item.history:
                apply_history(rules=rules, batch=batch, client=client, item=item, purchase=purchase)
                result.balance = client.balance
            elif client is not None:
                apply_rules(
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
            first = existing_purchase(merchant, item.external_id) if single else None
            if first is not None:
                return [repeat_result(first, item)], [], None
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
            first = existing_purchase(merchant, items[0].external_id)
            if first is None:  # the conflicting row is gone again: let the caller retry
                raise IntegrityError("purchase external id conflict")
            return [repeat_result(first, items[0])], [], None
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


def _schedule_after_purchase(purchase_ids: list[int]) -> None:
    """Announce the committed purchases to whoever subscribed at start-up (campaigns: check
    growth); the engine does not know who listens (see loyalty.events)."""
    event_emit_on_commit(PURCHASES_RECORDED, purchase_ids)
