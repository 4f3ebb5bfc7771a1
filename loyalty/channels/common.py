"""Shared look-ups for the channel modules."""

from .models import ChannelSettings


def channel_settings_for(merchant_id: int) -> ChannelSettings | None:
    """The merchant's channel credentials (None when none were ever saved)."""
    return ChannelSettings.objects.filter(merchant_id=merchant_id).first()


def channel_settings_get_or_create(*, merchant_id: int) -> ChannelSettings:
    settings_, _created = ChannelSettings.objects.get_or_create(merchant_id=merchant_id)
    return settings_


def vendor_text(vendor: str, code, description) -> str:
    """One shape for every vendor error kept on a message: 'Vendor <code>: <their words>'."""
    description = str(description or "").strip()[:500] or "no description"
    return (
        f"{vendor} {code}: {description}" if code not in (None, "") else f"{vendor}: {description}"
    )
