"""Times as a person reads them: in the merchant's time zone, never the server's UTC.

A page for one merchant (`/dashboard/<slug>/…`, `/cashier/<slug>/…`) runs with that merchant's
zone active (`MerchantTimeZoneMiddleware`), so Django's own rendering (`{{ value }}`, `|date`,
form fields) is local. Admin pages show records of several merchants and convert each one
(`onboarding.admin_present`); code that writes text by hand (exports, messages) calls
`merchant_localtime`/`format_local`."""

import datetime as dt
import zoneinfo
from contextlib import contextmanager

from django.utils import formats, timezone


def zone_of(merchant_or_zone) -> dt.tzinfo | None:
    """The tzinfo of a merchant, a zone name or a tzinfo (None when unknown or invalid)."""
    if merchant_or_zone is None:
        return None
    if isinstance(merchant_or_zone, dt.tzinfo):
        return merchant_or_zone
    name = getattr(merchant_or_zone, "time_zone", merchant_or_zone)
    if not isinstance(name, str) or not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def merchant_localtime(value: dt.datetime | None, merchant_or_zone) -> dt.datetime | None:
    """An aware datetime moved into the merchant's zone (the active zone if it has none)."""
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return value.astimezone(zone_of(merchant_or_zone) or timezone.get_current_timezone())


def format_local(
    value: dt.datetime | None, merchant_or_zone, *, fmt: str = "SHORT_DATETIME_FORMAT"
) -> str:
    """The local time as text: a Novokuznetsk sale at 13:16 UTC reads 20:16."""
    local = merchant_localtime(value, merchant_or_zone)
    return "—" if local is None else formats.date_format(local, fmt)


@contextmanager
def merchant_timezone(merchant_or_zone):
    """Run a block (a view, a render) with the merchant's zone active; no-op if unknown."""
    zone = zone_of(merchant_or_zone)
    if zone is None:
        yield
        return
    with timezone.override(zone):
        yield
