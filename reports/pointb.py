"""The typed Point-B result: frozen dataclasses that `reports.metrics.point_b` returns and
every reader (dashboard, XLSX export, case study, owner page, commands, benches) reads by
attribute. Field names are the metric names of docs/reports.md.

`ClientLevel` is the part stored in the nightly snapshot (`ReportSnapshot.clients`):
`to_json` writes it as JSON (`dataclasses.asdict`, Decimal and dates as strings) and `load`
reads it back by the field types. Its field names and nesting are the keys the snapshot had
when it was a plain dict, so snapshots written before the typed result load unchanged;
groups added later default to empty."""

import functools
import types
import typing
from dataclasses import asdict, dataclass, fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal

Money = Decimal
Percent = Decimal | None  # None when the base is zero


# ── rows ──────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class ReferralGeneration:
    generation: int
    clients: int


@dataclass(frozen=True)
class TierRow:
    tier: str
    position: int
    clients: int
    revenue: Money


@dataclass(frozen=True)
class RfmSegmentRow:
    segment: str
    label: str
    clients: int
    revenue: Money
    revenue_share: Money
    avg_r: float | None
    avg_f: float | None
    avg_m: float | None


@dataclass(frozen=True)
class RfmMonth:
    """Segment counts at a month's end; `counts` follows `reports.rfm.RFM_SEGMENTS`
    (filled in the Point-B result, empty in the snapshot)."""

    month: date
    as_of: date
    segments: dict[str, int]
    buyers: int
    counts: tuple[int, ...] = ()


@dataclass(frozen=True)
class SourceBuyersRow:
    channel: str
    source_detail: str
    members: int
    buyers: int
    revenue: Money
    label: str = ""  # the channel's label, filled in the Point-B result


@dataclass(frozen=True)
class ChannelRow:
    channel: str
    label: str
    members: int
    purchases: int
    revenue: Money


@dataclass(frozen=True)
class DetailRow:
    """Card revenue of one promo code or partner name."""

    name: str
    purchases: int
    revenue: Money


@dataclass(frozen=True)
class MonthRow:
    month: date
    members: int
    purchases: int
    revenue: Money
    actual_discount_percent: Percent


@dataclass(frozen=True)
class BenefitLine:
    kind: str
    label: str
    included: bool
    revenue: Money
    share_percent: Decimal
    amount: Money


@dataclass(frozen=True)
class GiftReturnsRow:
    campaign: str
    gifted: int
    clients: int
    purchases: int
    revenue: Money


@dataclass(frozen=True)
class CampaignResult:
    campaign: str
    kind: str
    active: bool
    rewards: int
    points: Decimal
    certificates: int
    redeemed: int
    revenue: Money


@dataclass(frozen=True)
class ExtraFigure:
    """A figure added by a registered metric (`reports.metrics.metric_register`)."""

    key: str
    label: str
    value: Decimal | int | None
    format: str = "number"  # number | money | pct


# ── groups ────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class MerchantRef:
    slug: str
    name: str
    currency: str


@dataclass(frozen=True)
class PeriodInfo:
    start: date | None
    end: date
    branch_id: int | None
    default: bool


@dataclass(frozen=True)
class ClientFigures:
    contacts: int
    imported: int
    organic: int
    members: int
    members_percent: Percent
    buyers: int
    buyers_percent: Percent
    purchases_per_buyer: Decimal | None
    regular_buyers: int
    regular_buyers_percent: Percent
    purchases_per_regular: Decimal | None
    regular_revenue: Money
    regular_revenue_percent: Percent


@dataclass(frozen=True)
class SalesFigures:
    card_purchases: int
    by_phone: int
    by_phone_percent: Percent
    card_revenue: Money
    points_redeemed: Decimal
    actual_discount_percent: Percent
    nocard_purchases: int
    nocard_revenue: Money
    average_check_card: Money | None
    average_check_nocard: Money | None
    average_check_all: Money | None
    card_check_uplift_percent: Percent


@dataclass(frozen=True)
class ReferralFigures:
    referral_clients: int
    referral_buyers: int
    referral_buyers_percent: Percent
    referral_depth: int
    referral_generations: tuple[ReferralGeneration, ...]


@dataclass(frozen=True)
class FeedbackFigures:
    ratings: int
    rating_average: Decimal | None
    reviews: int


@dataclass(frozen=True)
class CertificateFigures:
    certificates_issued: int
    certificate_purchases: int
    certificate_revenue: Money


@dataclass(frozen=True)
class SourceFigures:
    referral_revenue: Money
    platform_revenue: Money
    sources_revenue: Money
    partner_revenue: Money
    channels: tuple[ChannelRow, ...]
    revenue_by_promo_code: tuple[DetailRow, ...]
    revenue_by_partner: tuple[DetailRow, ...]
    source_buyers: tuple[SourceBuyersRow, ...]


@dataclass(frozen=True)
class Benefit:
    """Economic benefit: Σ component revenue × attribution share (+ saving)."""

    previous_discount_percent: Decimal
    saving: Money
    components: tuple[BenefitLine, ...]
    total: Money


@dataclass(frozen=True)
class GiftReturns:
    gifted: int
    clients: int
    purchases: int
    revenue: Money
    campaigns: tuple[GiftReturnsRow, ...]


@dataclass(frozen=True)
class PointB:
    merchant: MerchantRef
    period: PeriodInfo
    data_source: str  # live | rollup
    snapshot_at: datetime | None
    clients: ClientFigures
    sales: SalesFigures
    referrals: ReferralFigures
    feedback: FeedbackFigures
    certificates: CertificateFigures
    sources: SourceFigures
    benefit: Benefit
    tiers: tuple[TierRow, ...]
    rfm: tuple[RfmSegmentRow, ...]
    rfm_history: tuple[RfmMonth, ...]
    gift_returns: GiftReturns
    months: tuple[MonthRow, ...]
    campaigns: tuple[CampaignResult, ...]
    extra: tuple[ExtraFigure, ...] = ()


@dataclass(frozen=True)
class ClientLevel:
    """Figures that need one row per client: live, or from the nightly snapshot."""

    contacts: int
    imported: int
    organic: int
    members_total: int
    buyers: int
    regular_buyers: int
    buyer_purchases: int
    regular_purchases: int
    buyer_revenue: Money
    regular_revenue: Money
    referral_clients: int
    referral_buyers: int
    referral_depth: int
    referral_generations: tuple[ReferralGeneration, ...]
    tiers: tuple[TierRow, ...]
    rfm: tuple[RfmSegmentRow, ...]
    rfm_history: tuple[RfmMonth, ...] = ()
    source_buyers: tuple[SourceBuyersRow, ...] = ()


# ── JSON ──────────────────────────────────────────────────────────────────────────────


def to_json(value):
    """Plain JSON data: dataclasses as dicts (`asdict`), Decimal as str, dates ISO."""
    if is_dataclass(value) and not isinstance(value, type):
        return to_json(asdict(value))
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def load(cls, data: dict):
    """Build `cls` from JSON data (or from the dicts the aggregates return) by its field
    types; unknown keys are ignored, missing ones take the field's default."""
    hints = _hints(cls)
    kwargs = {f.name: _typed(hints[f.name], data[f.name]) for f in fields(cls) if f.name in data}
    return cls(**kwargs)


@functools.cache
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _typed(kind, value):
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(options) > 1:  # a Decimal | int value keeps its own type
            return Decimal(value) if isinstance(value, str) else value
        return _typed(options[0], value)
    if origin is tuple:
        item = typing.get_args(kind)[0]
        return tuple(_typed(item, v) for v in value)
    if origin is dict:
        _key, item = typing.get_args(kind)
        return {k: _typed(item, v) for k, v in value.items()}
    if is_dataclass(kind):
        return value if isinstance(value, kind) else load(kind, value)
    if kind is Decimal:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    if kind is datetime:
        return value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if kind is date:
        return value if isinstance(value, date) else date.fromisoformat(value)
    return value
