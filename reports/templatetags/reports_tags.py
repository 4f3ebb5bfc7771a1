"""Number formatting for the dashboard and the case report: the language's grouping and
decimal mark (`onboarding.money.format_number`), whole units for big amounts, an em dash for
undefined figures. Money goes through the `money`/`money0` filters of `present`."""

from decimal import Decimal

from django import template

from onboarding.money import format_number

register = template.Library()


@register.filter
def num(value):
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        value = Decimal(str(value))
    if isinstance(value, Decimal):
        whole = abs(value) >= 1000 or value == value.to_integral()
        return format_number(value, decimal_places=0 if whole else 2)
    if isinstance(value, int):
        return format_number(value, decimal_places=0)
    return value


@register.filter
def pct(value):
    if value is None:
        return "—"
    return f"{num(value)}%"


@register.filter
def get(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None
