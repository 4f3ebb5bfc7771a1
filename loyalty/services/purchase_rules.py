"""One check under the program's rules: redemption within caps (or, for a POS, as the till
took it, flagged for review), certificate use, cashback, referral rewards, the client's cached
figures and tier — applied in memory to the locked accounts of a `LedgerBatch`, written by the
caller (`purchases`)."""

from django.utils.translation import gettext as _

from loyalty.ledger import InsufficientPoints
from loyalty.models import LedgerKind
from onboarding.money import ZERO, q

from .certificates import certificate_check
from .errors import RedemptionError
from .lines import line_figures
from .rules import (
    FIRST_PURCHASE,
    PURCHASE,
    certificate_share,
    check_base,
    check_rewards,
    redemption_limits,
    referral_rewards,
)


def apply_history(*, rules, batch, client, item, purchase) -> None:
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


def apply_rules(
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
