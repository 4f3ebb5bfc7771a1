"""The case-study one-pager in the seeds' structure: Point A, program settings, actions
done (the onboarding checklist), Point B with the economic benefit. One selector feeds the
admin button, the dashboard link and `manage.py merchant_report`."""

from datetime import date

from django.apps import apps
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from onboarding.models import Merchant, PointAItem
from onboarding.money import format_money

from .lift import lift_context
from .metrics import point_b
from .pointb import to_json
from .rfm import RFM_SEGMENTS, SEGMENTS


def _program_settings(merchant: Merchant) -> dict:
    program = getattr(merchant, "program", None)
    carriers = [
        label
        for flag, label in (
            (merchant.carrier_app, _("mobile app card")),
            (merchant.carrier_telegram, _("Telegram-bot card")),
            (merchant.carrier_phone, _("accrual by phone number")),
        )
        if flag
    ]
    out = {
        "carriers": carriers,
        "pos_integration": str(merchant.get_pos_integration_display()),
        "online_orders": merchant.online_orders_note if merchant.online_orders else "",
        "tiers": [],
        "campaigns": [],
    }
    if program is None:
        return out
    out["tiers"] = [
        {
            "name": t.name,
            "cashback_percent": t.cashback_percent,
            "max_redemption_percent": t.max_redemption_percent,
            "spend_threshold": t.spend_threshold,
        }
        for t in program.tiers.order_by("position")
    ]
    out.update(
        welcome_points=program.welcome_points,
        points_expiry_months=program.points_expiry_months,
        promo_redeemable=program.promo_redeemable,
        installment_accrual_only=program.installment_accrual_only,
        referral_bonus_points=program.referral_bonus_points,
        referral_bonus_trigger=str(program.get_referral_bonus_trigger_display()),
        referral_percents=list(program.referral_percents),
        staff_bonus_percent=program.staff_bonus_percent,
        staff_bonus_note=program.staff_bonus_note,
    )
    for c in merchant.campaigns.filter(is_active=True).order_by("kind", "name"):
        params = []
        if c.days_before is not None:
            params.append(
                ngettext(
                    "%(n)s day before the birthday",
                    "%(n)s days before the birthday",
                    c.days_before,
                )
                % {"n": c.days_before}
            )
        if c.days_after_last_purchase:
            params.append(
                ngettext(
                    "%(n)s day after the last purchase",
                    "%(n)s days after the last purchase",
                    c.days_after_last_purchase,
                )
                % {"n": c.days_after_last_purchase}
            )
        if c.min_check_amount:
            params.append(
                _("after a purchase of %(n)s")
                % {"n": format_money(c.min_check_amount, merchant.currency)}
            )
        if c.certificate_valid_days:
            params.append(
                ngettext("valid %(n)s day", "valid %(n)s days", c.certificate_valid_days)
                % {"n": c.certificate_valid_days}
            )
        if c.redemption_cap_percent is not None and c.reward_form == "certificate":
            params.append(_("redeem up to %(n)s%%") % {"n": c.redemption_cap_percent})
        if c.burn_after_days:
            params.append(
                ngettext("burn after %(n)s day", "burn after %(n)s days", c.burn_after_days)
                % {"n": c.burn_after_days}
            )
        if c.partner_name:
            params.append(c.partner_name)
        out["campaigns"].append(
            {
                "name": c.name,
                "kind": str(c.get_kind_display()),
                "reward": f"{c.reward_points} ({c.get_reward_form_display()})",
                "params": ", ".join(str(p) for p in params),
            }
        )
    return out


def _actions(merchant: Merchant) -> dict:
    """Done checklist tasks by side, if the onboarding checklist is installed."""
    try:
        task_model = apps.get_model("onboarding", "MerchantTask")
    except LookupError:
        return {"available": False, "specialist": [], "business": []}
    done = task_model.objects.filter(merchant=merchant, status="done").order_by(
        "side", "position", "pk"
    )
    out = {"available": True, "specialist": [], "business": []}
    for task in done:
        out.setdefault(task.side, []).append(task.title)
    return out


def _name(user) -> str:
    return user.get_full_name() or user.username


def _people(merchant: Merchant) -> dict:
    """The seeds' people block from the merchant's relations: the client (its owners),
    the platform partner and the implementation specialist(s), by full name."""
    return {
        "clients": [_name(u) for u in merchant.owners.order_by("last_name", "username")],
        "partner": _name(merchant.partner) if merchant.partner_id else "",
        "specialists": [_name(u) for u in merchant.specialists.order_by("last_name", "username")],
    }


def case_study(*, merchant: Merchant, today: date | None = None) -> dict:
    """Everything the one-pager shows, as plain data (Decimal money, dates)."""
    now = timezone.now().astimezone(merchant.tzinfo)
    today = today or now.date()
    items = list(merchant.point_a_items.order_by("kind", "position", "pk"))
    b = point_b(merchant=merchant, today=today)
    months = None
    launched = bool(merchant.launch_date and merchant.launch_date <= today)
    if launched:
        # Whole months since the launch; a launch date still ahead has none to show.
        start = merchant.launch_date
        months = (today.year - start.year) * 12 + (today.month - start.month)
        months -= 1 if today.day < start.day else 0
    return {
        "merchant": {
            "slug": merchant.slug,
            "name": merchant.name,
            "business_type": str(merchant.get_business_type_display()),
            "city": merchant.city,
            "currency": merchant.currency,
            "launch_date": merchant.launch_date,
            "launched": launched,
            "as_of": today,
            # The moment the figures were taken, in the merchant's zone (today's report).
            "as_of_time": now.replace(tzinfo=None) if today == now.date() else None,
            "time_zone": merchant.time_zone,
            "months": months,
            "description": merchant.description,
        },
        "point_a": {
            "state": [i.text for i in items if i.kind == PointAItem.Kind.STATE],
            "goals": [i.text for i in items if i.kind == PointAItem.Kind.GOAL],
        },
        "program": _program_settings(merchant),
        "actions": _actions(merchant),
        "people": _people(merchant),
        "rfm_labels": [str(SEGMENTS[key]) for key in RFM_SEGMENTS],
        "point_b": b,
        "lift": lift_context(merchant=merchant, today=today),
        "benefit": b.benefit,
        "benefit_terms": [c for c in b.benefit.components if c.included and c.amount],
    }


def case_study_json(*, merchant: Merchant, today: date | None = None) -> dict:
    return to_json(case_study(merchant=merchant, today=today))


def case_study_html(*, merchant: Merchant, today: date | None = None, request=None) -> str:
    """A self-contained printable HTML page (inline CSS, no scripts)."""
    return render_to_string(
        "reports/case_study.html",
        {"case": case_study(merchant=merchant, today=today)},
        request=request,
    )
