"""Economic benefit: Σ component revenue × attribution share over the merchant's included
components (`reports.BenefitComponent`; defaults: platform traffic at the merchant's
platform-traffic %, everything else 100%), plus the saving against the previous direct
discount. Part of the Point-B result (`PointB.benefit`) and of the portfolio's rows."""

from dataclasses import dataclass
from decimal import Decimal

from onboarding.models import Merchant
from onboarding.money import HUNDRED, ZERO, q

from .models import DEFAULT_COMPONENTS, BenefitComponent, ComponentKind
from .pointb import Benefit, BenefitLine


@dataclass(frozen=True)
class ComponentConfig:
    kind: str
    label: str
    included: bool = True
    attribution_percent: Decimal | None = None
    manual_amount: Decimal | None = None


def benefit_config(merchant: Merchant) -> list[ComponentConfig]:
    """The merchant's components (see `benefit_configs`)."""
    return benefit_configs([merchant])[merchant.pk]


def benefit_configs(merchants: list[Merchant]) -> dict[int, list[ComponentConfig]]:
    """Each merchant's components, one query for all: its own rows override the default for
    their kind; kinds without a row are counted with the default share; manual rows are added."""
    rows: dict[int, list[BenefitComponent]] = {m.pk: [] for m in merchants}
    for row in BenefitComponent.objects.filter(merchant__in=merchants).order_by("position", "pk"):
        rows[row.merchant_id].append(row)
    return {m.pk: _config(m, rows[m.pk]) for m in merchants}


def _config(merchant: Merchant, rows: list[BenefitComponent]) -> list[ComponentConfig]:
    by_kind = {r.kind: r for r in rows if r.kind != ComponentKind.MANUAL}
    out = []
    for kind in DEFAULT_COMPONENTS:
        row = by_kind.get(kind)
        label = (row.label if row else "") or str(ComponentKind(kind).label)
        if row:
            out.append(ComponentConfig(kind, label, row.included, row.attribution_percent, None))
        elif kind == ComponentKind.SAVING:
            # Without a previous direct discount there is nothing to save against.
            out.append(ComponentConfig(kind, label, merchant.previous_discount_percent > 0))
        else:
            out.append(ComponentConfig(kind, label))
    for row in rows:
        if row.kind == ComponentKind.MANUAL:
            out.append(
                ComponentConfig(
                    row.kind,
                    row.label or str(row.get_kind_display()),
                    row.included,
                    row.attribution_percent,
                    row.manual_amount,
                )
            )
    return out


def economic_benefit(
    *,
    merchant: Merchant,
    revenues: dict,
    config: list[ComponentConfig] | None = None,
) -> Benefit:
    """Σ component revenue × attribution share over the included components.

    `revenues` maps component kinds (certificates, platform, sources, referrals, partner,
    saving) to amounts. Each component carries its revenue, share and attributed amount
    (rounded by `q`); the saving is the `saving` revenue."""
    config = benefit_config(merchant) if config is None else config
    components, total = [], ZERO
    for c in config:
        if c.kind == ComponentKind.MANUAL:
            revenue = Decimal(c.manual_amount or 0)
        else:
            revenue = Decimal(revenues.get(c.kind) or 0)
        if c.attribution_percent is not None:
            share = Decimal(c.attribution_percent)
        elif c.kind == ComponentKind.PLATFORM:
            share = Decimal(merchant.platform_traffic_share_percent)
        else:
            share = HUNDRED
        amount = q(revenue * share / HUNDRED)
        if c.included:
            total += amount
        components.append(
            BenefitLine(
                kind=c.kind,
                label=c.label,
                included=c.included,
                revenue=q(revenue),
                share_percent=q(share),
                amount=amount,
            )
        )
    return Benefit(
        previous_discount_percent=q(merchant.previous_discount_percent),
        saving=q(Decimal(revenues.get(ComponentKind.SAVING) or 0)),
        components=tuple(components),
        total=q(total),
    )
