"""Template filters for what a person reads: nouns in the right case and number, money with
the currency's sign and the language's grouping, points, times in the merchant's zone.

    {% load present %}
    {{ opts|accusative }}            "компанию"
    {{ cl.opts|count_of:cl.result_count }}   "13 сотрудников"
    {{ amount|money:merchant }}      "6 362 191,46 ₽"  (a merchant or a currency code)
    {{ amount|money0:merchant }}     "6 362 191 ₽"     (whole units, for big figures)
    {{ balance|points }}             "3 000"
    {{ balance|points_label }}       "3 000 баллов"
    {{ purchase.occurred_at|local:merchant|date:"d.m.Y H:i" }}
"""

from django import template
from django.templatetags.tz import do_timezone

from onboarding import nouns
from onboarding.localtime import zone_of
from onboarding.money import format_money, format_number, format_points, points_label

register = template.Library()


def _currency(merchant_or_code) -> str | None:
    return getattr(merchant_or_code, "currency", merchant_or_code) or None


@register.filter
def accusative(opts) -> str:
    return nouns.accusative(opts)


@register.filter
def count_of(opts, count) -> str:
    return nouns.count_of(opts, int(count or 0))


@register.filter
def money(value, merchant_or_code=None) -> str:
    return format_money(value, _currency(merchant_or_code))


@register.filter
def money0(value, merchant_or_code=None) -> str:
    return format_money(value, _currency(merchant_or_code), decimal_places=0)


@register.filter
def number(value, places=None) -> str:
    return format_number(value, decimal_places=None if places in (None, "") else int(places))


@register.filter(name="points")
def points_filter(value) -> str:
    return format_points(value)


@register.filter(name="points_label")
def points_label_filter(value) -> str:
    return points_label(value)


@register.filter(expects_localtime=False)
def local(value, merchant_or_zone):
    """The datetime in the merchant's zone, marked so that a chained `|date` keeps it there
    (Django's `tz.timezone` filter, taking a merchant as well as a zone)."""
    zone = zone_of(merchant_or_zone)
    if not value or zone is None:
        return value
    return do_timezone(value, zone)
