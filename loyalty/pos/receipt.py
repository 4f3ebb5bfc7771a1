"""The one POS contract: every adapter turns its payload into a `Receipt`, and
`receipt_record` records it — so a new POS is one module that parses (see docs/engine.md,
"Add a POS in one module").

`receipt_record` finds the branch, the cashier, the client and whether refunds wait for this
sale in one statement, enrols an unknown phone when the program says so, books the points
the till took as it took them (a payment that breaks the rules is flagged for review), and
answers a repeat of the same document with its first result, a repeat with other content
with a logged conflict."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.utils.translation import gettext as _

from crm.models import Client, ClientSource
from crm.phones import InvalidPhone, normalize_phone
from loyalty.ledger.shapes import new_instance, saved_as
from loyalty.limits import MAX_QUANTITY, amount_problem, moment_problem
from loyalty.models import PaymentType, Purchase, PurchaseLine
from loyalty.services import prepared
from loyalty.services.errors import IdempotencyConflict, LoyaltyError
from loyalty.services.lines import LineInput, RefundLineInput
from loyalty.services.locking import fingerprint_sql, rules_cached
from loyalty.services.members import client_enrol, client_register
from loyalty.services.pos_refunds import refund_or_pending
from loyalty.services.purchases import purchase_record
from onboarding.models import Branch, Merchant, StaffMember
from onboarding.money import ZERO, q

from .common import BadRequest, Outcome, Unauthorized, storable, text
from .models import PendingRefund, PosEvent

SALE, REFUND = "sale", "refund"
# Payment kinds a receipt names; everything but points is money.
POINTS, CASH, CARD, INSTALLMENT, OTHER = "points", "cash", "card", "installment", "other"


@dataclass
class Receipt:
    """A POS document as the engine needs it, whatever the POS.

    Sale: `lines` (amount after discounts, promo flag, external line id) and `payments` by
    kind (points included). Refund: `base_external_id` and the `returned` lines (None: the
    whole remaining sale), or an `amount` with its `promo_amount` when the POS names no
    lines."""

    source: str  # a PurchaseSource value
    kind: str  # SALE or REFUND
    external_id: str
    occurred_at: datetime
    lines: list[LineInput] = field(default_factory=list)
    payments: dict[str, Decimal] = field(default_factory=dict)
    phone: str | None = None
    card: str | None = None
    cashier_ref: str | None = None
    branch_ref: str | None = None
    base_external_id: str | None = None
    returned: list[RefundLineInput] | None = None
    amount: Decimal | None = None
    promo_amount: Decimal | None = None
    raw: object = None
    # The branch must be known (Evotor: the store in the path is the merchant's branch).
    branch_required: bool = False


def payment_type(payments: dict[str, Decimal]) -> str:
    """The purchase's payment type from the money payments (points are not money)."""
    kinds = {k for k, v in payments.items() if k != POINTS and v}
    if INSTALLMENT in kinds:
        return PaymentType.INSTALLMENT
    if kinds == {CASH}:
        return PaymentType.CASH
    if kinds <= {CARD}:
        return PaymentType.CARD
    return PaymentType.MIXED


@dataclass
class _Context:
    branch: Branch | None
    cashier: StaffMember | None
    client: Client | None
    by_phone: bool
    phone: str | None
    pending: bool
    # The program's fingerprint (`locking`), read only when the phone names no client yet.
    config: str | None = None


_CONTEXT_SQL: dict[str, str] = {}


def _context_sql() -> str:
    """The context statement, built once per database vendor (every sale runs it)."""
    qn = connection.ops.quote_name
    branch_t, staff_t = qn(Branch._meta.db_table), qn(StaffMember._meta.db_table)
    client_t, pending_t = qn(Client._meta.db_table), qn(PendingRefund._meta.db_table)
    sql = _CONTEXT_SQL[connection.vendor] = (
        f"SELECT (SELECT id FROM {branch_t} WHERE merchant_id = %s AND %s <> '' "
        f"AND LOWER(pos_store_id) = LOWER(%s) ORDER BY id LIMIT 1), "
        # The one cashier the employee id names, or none (as `only_one`).
        f"(SELECT CASE WHEN COUNT(*) = 1 THEN MIN(id) END FROM {staff_t} WHERE merchant_id = %s "
        f"AND %s <> '' AND LOWER(pos_employee_id) = LOWER(%s)), "
        f"(SELECT id FROM {client_t} WHERE merchant_id = %s AND card_code <> '' "
        "AND card_code = %s LIMIT 1), "
        f"(SELECT id FROM {client_t} WHERE merchant_id = %s AND phone <> '' "
        "AND phone = %s LIMIT 1), "
        f"(SELECT 1 FROM {pending_t} WHERE merchant_id = %s AND base_external_id = %s "
        "AND applied_at IS NULL LIMIT 1), "
        # A phone no client has: the program's fingerprint, for the enrolment's rules (the
        # engine's per-process cache, `locking.rules_cached`); not computed otherwise.
        f"CASE WHEN %s <> '' AND NOT EXISTS (SELECT 1 FROM {client_t} "
        f"WHERE merchant_id = %s AND phone = %s) THEN {fingerprint_sql()} END"
    )
    return sql


def _context(merchant: Merchant, receipt: Receipt) -> _Context:
    """Branch, cashier, client (card first, then phone) and waiting refunds: one statement."""
    phone = None
    if receipt.phone not in (None, "", 0, "0"):
        try:
            phone = normalize_phone(str(receipt.phone), merchant.country)
        except InvalidPhone:
            phone = None
    card = str(receipt.card).strip() if receipt.card not in (None, "", 0, "0") else None
    sql = _CONTEXT_SQL.get(connection.vendor) or _context_sql()
    branch_ref, cashier_ref = str(receipt.branch_ref or ""), str(receipt.cashier_ref or "")
    params = [
        *(merchant.pk, branch_ref, branch_ref),
        *(merchant.pk, cashier_ref, cashier_ref),
        # No card or phone: NULL, which matches nothing at once (an empty string walked
        # every client without a card in the merchant's card index).
        *(merchant.pk, card or None),
        *(merchant.pk, phone or None),
        *(merchant.pk, receipt.external_id),
        *(phone or None, merchant.pk, phone or None, merchant.pk),
    ]
    with connection.cursor() as cursor:
        prepared.execute(cursor, sql, params)  # planned once per connection
        branch_id, cashier_id, by_card, by_phone, pending, config = cursor.fetchone()
    if receipt.branch_required and branch_id is None:
        raise Unauthorized("the store is not connected to this merchant")
    client_id = by_card or by_phone
    # Rows by their key (the engine locks and re-reads the client; the purchase stores the
    # branch's and cashier's ids): built without the model's generic constructor.
    return _Context(
        branch=_known(Branch, branch_id, merchant),
        cashier=_known(StaffMember, cashier_id, merchant),
        client=_known(Client, client_id, merchant),
        by_phone=client_id is not None and not by_card,
        phone=phone,
        pending=bool(pending),
        config=config,
    )


def _known(model, pk, merchant: Merchant):
    """A saved row of `model` known by its key and merchant only (None without a key)."""
    if pk is None:
        return None
    return saved_as(new_instance(model, {"merchant_id": merchant.pk}, {}), pk, connection.alias)


def _enrol(merchant: Merchant, ctx: _Context, at: datetime) -> Client | None:
    """A phone the merchant has not seen: a new member (source POS, welcome points) when the
    program says a phone at the till enrols the buyer — one write (`client_enrol`) under the
    rules the context's fingerprint names; a client created with this phone meanwhile is
    joined instead."""
    rules = rules_cached(merchant, ctx.config)
    if rules.program is not None and not rules.program.pos_enrols_buyers:
        return None
    client = client_enrol(
        merchant=merchant, phone=ctx.phone, source=ClientSource.POS, joined_at=at, rules=rules
    )
    if client is not None:
        return client
    return client_register(
        merchant=merchant, phone=ctx.phone, source=ClientSource.POS, joined_at=at
    ).client


ID_LENGTH = Purchase._meta.get_field("external_id").max_length
LINE_ID_LENGTH = PurchaseLine._meta.get_field("external_id").max_length
LINE_NAME_LENGTH = PurchaseLine._meta.get_field("name").max_length
REF_LENGTH = 200  # phones, cards, cashier and store ids: compared, never stored as such


def _amount(value, what: str) -> None:
    if value is not None and (problem := amount_problem(Decimal(value))):
        raise BadRequest(f"{what}: {problem}")


def receipt_check(receipt: Receipt) -> None:
    """The contract's bounds, checked before anything is written: ids fit their columns and
    hold no NUL character, every amount and the total are within POS_MAX_AMOUNT, quantities
    are sane, and the moment is plausible (POS_EARLIEST_DATE, POS_MAX_FUTURE_HOURS).
    BadRequest with the reason otherwise."""
    text(receipt.external_id, what="document id", max_length=ID_LENGTH)
    if not receipt.external_id:
        raise BadRequest("document id is required")
    text(receipt.base_external_id, what="base document id", max_length=ID_LENGTH)
    for what, value in (
        ("phone", receipt.phone),
        ("card", receipt.card),
        ("cashier id", receipt.cashier_ref),
        ("store id", receipt.branch_ref),
    ):
        text(value, what=what, max_length=REF_LENGTH)
    for number, line in enumerate(receipt.lines, start=1):
        text(line.external_id, what=f"line {number} id", max_length=LINE_ID_LENGTH)
        text(line.name, what=f"line {number} name", max_length=LINE_NAME_LENGTH)
        _amount(line.amount, f"line {number} amount")
        if line.quantity is not None and not 0 < line.quantity <= MAX_QUANTITY:
            raise BadRequest(f"line {number} quantity {line.quantity} is not plausible")
    for number, line in enumerate(receipt.returned or [], start=1):
        text(line.external_id, what=f"returned line {number} id", max_length=LINE_ID_LENGTH)
        _amount(line.amount, f"returned line {number} amount")
        if line.quantity is not None and not 0 <= line.quantity <= MAX_QUANTITY:
            raise BadRequest(f"returned line {number} quantity {line.quantity} is not plausible")
    for kind, value in receipt.payments.items():
        _amount(value, f"{kind} payment")
    _amount(sum((ln.amount for ln in receipt.lines), ZERO), "check total")
    _amount(sum(receipt.payments.values(), ZERO), "payments total")
    _amount(receipt.amount, "refund amount")
    _amount(receipt.promo_amount, "refund promo amount")
    if problem := moment_problem(receipt.occurred_at):
        raise BadRequest(f"document date: {problem}")


def receipt_record(
    *,
    merchant: Merchant,
    receipt: Receipt,
    log: Callable[[Outcome], object] | None = None,
    checked: bool = False,
) -> Outcome:
    """Record one POS receipt (sale or refund) and say what happened. `log(outcome)`, if
    given, writes the event row of a recorded sale or refund inside its transaction (the
    returned outcome is then marked `logged`); `log(outcome, save=False)` returns the row
    unsaved, for a new sale or refund to write it in its own statement. `checked`: the
    caller has just passed this receipt through `receipt_check` and changed nothing since."""
    if not checked:
        receipt_check(receipt)
    # The document is made storable once: for the purchase or refund it records and, when it
    # is what the event row logs, for that row too.
    cleaned = (receipt.raw, storable(receipt.raw))
    receipt.raw = cleaned[1]
    logged = log

    if log is not None:

        def logged(outcome, save=True):
            outcome.cleaned = cleaned
            return log(outcome, save=save)

    outcome = _receipt_record(merchant, receipt, logged)
    outcome.cleaned = cleaned
    return outcome


def _receipt_record(merchant: Merchant, receipt: Receipt, log) -> Outcome:
    if receipt.kind == REFUND:
        if receipt.branch_required:
            _context(merchant, receipt)  # the store check
        return _refund(merchant, receipt, log)
    if not receipt.lines:
        raise BadRequest("a sale needs at least one line")
    ctx = _context(merchant, receipt)
    client, enrolled = ctx.client, False
    if client is None and ctx.phone:
        client = _enrol(merchant, ctx, receipt.occurred_at)
        enrolled = client is not None
    points = q(receipt.payments.get(POINTS) or ZERO)
    if client is None:
        points = ZERO  # no client to take them from: the sale is recorded, nothing earned
    written: list[Outcome] = []
    logged: list[Outcome] = []

    def event_row(result) -> list:
        # A new sale's event row is written in the purchase's own statement.
        outcome = _sale_outcome(receipt, result, enrolled=enrolled, client=client)
        written.append(outcome)
        return [log(outcome, save=False)]

    def log_in_transaction(result) -> None:
        if result.created and written:
            outcome = written[0]
        else:  # a repeat: its event row is written now, in the same transaction
            outcome = _sale_outcome(receipt, result, enrolled=enrolled, client=client)
            log(outcome)
        outcome.logged = True
        logged.append(outcome)

    try:
        result = purchase_record(
            merchant=merchant,
            client=client,
            amount=q(sum((ln.amount for ln in receipt.lines), ZERO)),
            lines=receipt.lines,
            points_to_redeem=points,
            till_points=True,
            payment_type=payment_type(receipt.payments),
            occurred_at=receipt.occurred_at,
            branch=ctx.branch,
            cashier=ctx.cashier,
            external_id=receipt.external_id,
            source=receipt.source,
            by_phone=ctx.by_phone or enrolled,
            raw_payload=receipt.raw,
            pending_refunds=ctx.pending,
            in_transaction=log_in_transaction if log is not None else None,
            rows_with=event_row if log is not None else None,
        )
    except IdempotencyConflict as exc:
        return Outcome(PosEvent.Status.CONFLICT, str(exc), external_id=receipt.external_id)
    except LoyaltyError as exc:
        raise BadRequest(str(exc)) from None
    if logged:
        return logged[0]
    return _sale_outcome(receipt, result, enrolled=enrolled, client=client)


def _sale_outcome(receipt: Receipt, result, *, enrolled: bool, client) -> Outcome:
    purchase = result.purchase
    status = PosEvent.Status.ACCEPTED if result.created else PosEvent.Status.DUPLICATE
    notes = []
    if enrolled:
        notes.append(_("new member enrolled by phone"))
    if client is None:
        notes.append(_("no client: sale recorded without points"))
    if result.created and purchase.review_reason:
        notes.append(
            _("points payment flagged for review: %(why)s") % {"why": purchase.review_reason}
        )
    return Outcome(status, "; ".join(notes), external_id=receipt.external_id, purchase=purchase)


def _refund(merchant: Merchant, receipt: Receipt, log=None) -> Outcome:
    if not receipt.base_external_id:
        return Outcome(
            PosEvent.Status.IGNORED, "refund without a base sale", external_id=receipt.external_id
        )
    written: list[Outcome] = []

    def event_row(result) -> list:
        # A new refund's event row is written in the refund's own statement.
        written.append(_refund_outcome(receipt, result))
        return [log(written[0], save=False)]

    try:
        result = refund_or_pending(
            merchant=merchant,
            base_external_id=receipt.base_external_id,
            external_id=receipt.external_id,
            amount=receipt.amount,
            promo_amount=receipt.promo_amount,
            lines=receipt.returned,
            occurred_at=receipt.occurred_at,
            raw_payload=receipt.raw,
            rows_with=event_row if log is not None else None,
        )
    except IdempotencyConflict as exc:
        return Outcome(PosEvent.Status.CONFLICT, str(exc), external_id=receipt.external_id)
    except LoyaltyError as exc:
        raise BadRequest(str(exc)) from None
    if written and result.created:
        written[0].logged = True
        return written[0]
    return _refund_outcome(receipt, result)


def _refund_outcome(receipt: Receipt, result) -> Outcome:
    if result.pending:
        return Outcome(
            PosEvent.Status.PENDING, "sale not seen yet", external_id=receipt.external_id
        )
    if result.refund is None:
        return Outcome(
            PosEvent.Status.IGNORED, "nothing left to refund", external_id=receipt.external_id
        )
    status = PosEvent.Status.ACCEPTED if result.created else PosEvent.Status.DUPLICATE
    return Outcome(
        status,
        external_id=receipt.external_id,
        refund=result.refund,
        purchase=result.refund.purchase,
    )


def purchase_known(merchant: Merchant, external_id: str) -> Purchase | None:
    return Purchase.objects.filter(merchant=merchant, external_id=external_id).first()
