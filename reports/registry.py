"""Figures added to the Point-B result by registration (docs/extending.md "A new metric"):
each appears in `PointB.extra`, as a card on the dashboard and as a row of the XLSX
export's "Point B" sheet."""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from onboarding.models import Merchant

from .aggregates import Period
from .pointb import ExtraFigure


@dataclass(frozen=True)
class MetricSpec:
    key: str
    label: str
    compute: Callable[..., Decimal | int | None]
    format: str = "number"


_metrics: dict[str, MetricSpec] = {}


def metric_register(key: str, label, compute, *, format: str = "number") -> None:
    """Add a figure to every Point-B result (`PointB.extra`): `compute(merchant=, period=)`
    returns a Decimal, an int or None; the dashboard shows it as a card and the XLSX export
    as a row of its "Point B" sheet. `format` is number, money or pct. Call it from an
    `AppConfig.ready`; registering the same key again replaces it."""
    _metrics[key] = MetricSpec(key, label, compute, format)


def metric_unregister(key: str) -> None:
    _metrics.pop(key, None)


def extra_figures(*, merchant: Merchant, period: Period) -> tuple[ExtraFigure, ...]:
    return tuple(
        ExtraFigure(
            key=m.key,
            label=str(m.label),
            value=m.compute(merchant=merchant, period=period),
            format=m.format,
        )
        for m in _metrics.values()
    )
