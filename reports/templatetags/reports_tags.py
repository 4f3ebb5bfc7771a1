"""Number formatting for the dashboard and the case report: thin spaces between
thousands, whole units for big amounts, an em dash for undefined figures."""

from decimal import Decimal

from django import template

register = template.Library()
NBSP = "\u00a0"


@register.filter
def num(value):
    if value is None or value == "":
        return "—"
    if isinstance(value, float):
        value = Decimal(str(value))
    if isinstance(value, Decimal):
        text = (
            f"{value:,.0f}"
            if abs(value) >= 1000 or value == value.to_integral()
            else f"{value:,.2f}"
        )
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        return value
    return text.replace(",", NBSP)


@register.filter
def pct(value):
    if value is None:
        return "—"
    return f"{num(value)}%"


@register.filter
def get(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None
