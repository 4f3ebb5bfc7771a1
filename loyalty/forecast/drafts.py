"""Program drafts: read, validate, turn into the engine's `Rules`, and make one the program.

A draft holds the program's own fields and its tier ladder; it is validated by the same
model validation and ladder rule as the program, and made the program by the program's save
service (`loyalty.program.program_configure`), so a draft can never hold what the program
could not."""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from onboarding.models import Merchant

from ..models import Program, Tier
from ..program import TierSpec, program_configure, validate_tier_ladder
from ..services.rules import Rules
from .models import ProgramDraft

PROGRAM_FIELDS = (
    "welcome_points",
    "points_expiry_months",
    "promo_earns_points",
    "promo_redeemable",
    "installment_accrual_only",
    "tiers_can_fall",
    "referral_bonus_points",
    "referral_bonus_trigger",
    "referral_base",
    "referral_level1_percent",
    "referral_level2_percent",
    "referral_level3_percent",
)
TIER_FIELDS = ("cashback_percent", "max_redemption_percent", "spend_threshold")


def settings_from_program(merchant: Merchant) -> dict:
    """The merchant's current program (or the defaults) as draft settings."""
    program = Program.objects.filter(merchant=merchant).first() or Program(merchant=merchant)
    data = {name: _plain(getattr(program, name)) for name in PROGRAM_FIELDS}
    tiers = list(program.tiers.order_by("position")) if program.pk else []
    data["tiers"] = [
        {"name": t.name, **{f: _plain(getattr(t, f)) for f in TIER_FIELDS}} for t in tiers
    ]
    return data


def _plain(value):
    return str(value) if isinstance(value, Decimal) else value


def _number(value, label: str, errors: list) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else 0))
    except (InvalidOperation, ValueError):
        errors.append(_("%(what)s: “%(value)s” is not a number.") % {"what": label, "value": value})
        return Decimal(0)


def draft_parts(*, merchant: Merchant, settings: dict) -> tuple[Program, list[TierSpec]]:
    """The unsaved program and tier specs a draft describes; raise ValidationError with every
    problem (the program's own validation and the ladder rule)."""
    program = Program(merchant=merchant)
    for name in PROGRAM_FIELDS:
        if name in settings and settings[name] is not None:
            setattr(program, name, settings[name])
    errors: list = []
    specs = []
    for row in settings.get("tiers") or []:
        name = str(row.get("name") or "").strip()
        if not name:
            errors.append(_("Every tier needs a name."))
        specs.append(
            TierSpec(
                name=name,
                **{f: _number(row.get(f), f"{name} {f}", errors) for f in TIER_FIELDS},
            )
        )
    if not specs:
        errors.append(_("A program needs at least one tier."))
    try:
        program.full_clean(exclude=["merchant"], validate_unique=False)
    except ValidationError as exc:
        errors.extend(
            f"{Program._meta.get_field(f).verbose_name}: {m}" if f != "__all__" else m
            for f, ms in exc.message_dict.items()
            for m in ms
        )
    errors.extend(validate_tier_ladder(specs))
    if errors:
        raise ValidationError(errors)
    return program, specs


def draft_rules(*, merchant: Merchant, settings: dict) -> Rules:
    """The engine's `Rules` for a draft: an unsaved program and tiers, numbered by position."""
    program, specs = draft_parts(merchant=merchant, settings=settings)
    tiers = tuple(
        Tier(
            pk=position,
            program=program,
            position=position,
            name=spec.name,
            cashback_percent=spec.cashback_percent,
            max_redemption_percent=spec.max_redemption_percent,
            spend_threshold=spec.spend_threshold,
        )
        for position, spec in enumerate(specs, start=1)
    )
    return Rules(merchant_id=merchant.pk, program=program, tiers=tiers)


def draft_save(
    *,
    merchant: Merchant,
    name: str,
    settings: dict,
    redeem_share_percent: int = 50,
    user=None,
    draft: ProgramDraft | None = None,
) -> ProgramDraft:
    """Create or update a draft after validating it like the program itself."""
    draft_parts(merchant=merchant, settings=settings)
    if not 0 <= int(redeem_share_percent) <= 100:
        raise ValidationError(_("The share of checks paid with points must be 0–100%."))
    if draft is None:
        draft = ProgramDraft(merchant=merchant, created_by=user)
    elif draft.merchant_id != merchant.pk:
        raise ValidationError(_("The draft belongs to another merchant."))
    draft.name, draft.settings = name, settings
    draft.redeem_share_percent = int(redeem_share_percent)
    draft.full_clean()
    draft.save()
    return draft


@transaction.atomic
def draft_apply(*, merchant: Merchant, draft: ProgramDraft) -> Program:
    """Make the draft the merchant's program through the program's save service."""
    if draft.merchant_id != merchant.pk:
        raise ValidationError(_("The draft belongs to another merchant."))
    program, specs = draft_parts(merchant=merchant, settings=draft.settings)
    fields = {name: getattr(program, name) for name in PROGRAM_FIELDS}
    result = program_configure(merchant=merchant, tiers=specs, **fields)
    ProgramDraft.objects.filter(pk=draft.pk).update(applied_at=timezone.now())
    return result
