"""Rendering outbox messages from a campaign's template (or the kind's default)."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from string import Formatter

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from ..models import Campaign, CampaignKind, Channel, OutboxMessage, RewardForm

PLACEHOLDERS = ("name", "points", "valid_until", "merchant")

# English sources; the translation catalogue supplies the Russian text.
_CERT = {
    CampaignKind.BIRTHDAY: gettext_noop(
        "{name}, happy birthday from {merchant}! Your gift certificate for {points} points "
        "is valid until {valid_until}."
    ),
    CampaignKind.WINBACK: gettext_noop(
        "{name}, we miss you at {merchant}! Here is a certificate for {points} points, "
        "valid until {valid_until}."
    ),
    CampaignKind.CHECK_GROWTH: gettext_noop(
        "{name}, thank you for your purchase at {merchant}! Your certificate for {points} points "
        "is valid until {valid_until}."
    ),
    CampaignKind.REVIEW_REWARD: gettext_noop(
        "{name}, thank you for your review of {merchant}! Your certificate for {points} points "
        "is valid until {valid_until}."
    ),
    CampaignKind.WELCOME: gettext_noop(
        "{name}, welcome to {merchant}! Here is a certificate for {points} points, "
        "valid until {valid_until}."
    ),
}
_POINTS = {
    CampaignKind.BIRTHDAY: gettext_noop(
        "{name}, happy birthday from {merchant}! We have added {points} points to your card."
    ),
    CampaignKind.WINBACK: gettext_noop(
        "{name}, we miss you at {merchant}! We have added {points} points to your card."
    ),
    CampaignKind.CHECK_GROWTH: gettext_noop(
        "{name}, thank you for your purchase at {merchant}! We have added {points} points "
        "to your card."
    ),
    CampaignKind.REVIEW_REWARD: gettext_noop(
        "{name}, thank you for your review of {merchant}! We have added {points} points "
        "to your card."
    ),
    CampaignKind.WELCOME: gettext_noop(
        "{name}, welcome to {merchant}! We have added {points} points to your card."
    ),
    CampaignKind.SEGMENT_GIFT: gettext_noop(
        "{name}, {merchant} has gifted you {points} points. Spend them by {valid_until}: "
        "after that they burn."
    ),
}
_FALLBACK_CERT = gettext_noop(
    "{name}, {merchant} has sent you a certificate for {points} points, valid until {valid_until}."
)
_FALLBACK_POINTS = gettext_noop("{name}, {merchant} has added {points} points to your card.")


def default_template(kind: str, reward_form: str) -> str:
    """The untranslated default text for a campaign kind and reward form."""
    if reward_form == RewardForm.CERTIFICATE:
        return _CERT.get(kind, _FALLBACK_CERT)
    return _POINTS.get(kind, _FALLBACK_POINTS)


def render_template(template: str, values: dict) -> str:
    """Substitute the known placeholders; anything else (unknown names, attribute or index
    look-ups, stray braces) is left as written, so a typo never breaks a campaign run."""
    return render_parsed(template_parse(template), values)


def template_parse(template: str) -> list | str:
    """The template's parts for `render_parsed`, or the template itself if it cannot be
    parsed (it is then sent as written)."""
    try:
        return list(Formatter().parse(template))
    except ValueError:
        return template


def render_parsed(parts: list | str, values: dict) -> str:
    """`render_template` of a template parsed once by `template_parse`."""
    if isinstance(parts, str):
        return parts
    out = []
    for literal, field, spec, conversion in parts:
        out.append(literal)
        if field is None:
            continue
        if field in values:
            out.append(str(values[field]))
        else:
            raw = field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            out.append("{" + raw + "}")
    return "".join(out)


def format_points(points: Decimal) -> str:
    points = Decimal(points)
    return f"{points:.0f}" if points == points.to_integral_value() else f"{points:.2f}"


def last_valid_day(valid_until: datetime, tzinfo) -> date:
    """The last local day a reward can be used: a gift burning at local midnight is spent
    by the day before it, so the message names that day."""
    return (valid_until - timedelta(microseconds=1)).astimezone(tzinfo).date()


@dataclass(frozen=True)
class Recipient:
    client_id: int
    full_name: str
    phone: str
    email: str


class MessageRenderer:
    """Renders one campaign's messages: the template, the subject and the language are resolved
    once, so rendering thousands of messages costs a string substitution each."""

    def __init__(self, *, campaign: Campaign, merchant_name: str, tzinfo):
        self.campaign = campaign
        self.merchant_name = merchant_name
        self.tzinfo = tzinfo
        self._last_reward: tuple = (None, {})
        with translation.override(settings.LANGUAGE_CODE):
            self.template = campaign.message_template.strip() or _(
                default_template(campaign.kind, campaign.reward_form)
            )
            self.parts_of_template = template_parse(self.template)
            self.anonymous = _("dear client")
            self.subject = (
                _("%(merchant)s: %(campaign)s")
                % {"merchant": merchant_name, "campaign": campaign.name}
            )[:200]

    def build(
        self,
        *,
        recipient: Recipient,
        issuance_id: int | None,
        points: Decimal,
        valid_until: datetime | None,
        channel: str | None = None,
    ) -> OutboxMessage:
        """An unsaved outbox message for one issuance, over the campaign's channel unless
        `channel` says otherwise (the inbox, for a client who may not be messaged)."""
        channel, recipient_address, body = self.parts(
            recipient=recipient, points=points, valid_until=valid_until, channel=channel
        )
        return OutboxMessage(
            merchant_id=self.campaign.merchant_id,
            client_id=recipient.client_id,
            issuance_id=issuance_id,
            channel=channel,
            recipient=recipient_address,
            subject=self.subject,
            body=body,
        )

    def parts(
        self,
        *,
        recipient: Recipient,
        points: Decimal,
        valid_until: datetime | None,
        channel: str | None = None,
    ) -> tuple[str, str, str]:
        """(channel, recipient address, body) of one message — `build` without the model
        instance, for set-based writers."""
        channel = channel or self.campaign.channel
        values = {
            "name": recipient.full_name.strip() or self.anonymous,
            **self._reward_values(points, valid_until),
        }
        address = (
            recipient.email
            if channel == Channel.EMAIL
            else ("" if channel == Channel.INBOX else recipient.phone)
        )
        return channel, address, render_parsed(self.parts_of_template, values)

    def _reward_values(self, points: Decimal, valid_until: datetime | None) -> dict:
        """The placeholders shared by a chunk's messages (the same reward), formatted once."""
        key = (points, valid_until)
        if self._last_reward[0] != key:
            values = {
                "points": format_points(points),
                "valid_until": last_valid_day(valid_until, self.tzinfo).strftime("%d.%m.%Y")
                if valid_until
                else "",
                "merchant": self.merchant_name,
            }
            self._last_reward = (key, values)
        return self._last_reward[1]
