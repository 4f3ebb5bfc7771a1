"""SMS through the merchant's gateway: SMSC (smsc.ru / smsc.kz, HTTP API `send.php` with
fmt=3 JSON answers) or Twilio (Messages API). Campaign texts carry the signed unsubscribe
link; one-time codes go the same way (`sms_send`).

SMSC answers HTTP 200 with {"id": …, "cnt": …} or {"error": "…", "error_code": N}: 4 (IP
temporarily blocked for frequent errors) and 9 (too many identical or concurrent requests)
pass with time and are retried; 1 (parameters), 2 (login/password), 3 (no funds), 5, 6
(message forbidden by text or sender name), 7 (number format) and 8 (cannot be delivered to
this number) are not. Twilio answers 201 with the Message resource or an error object
{"code", "message", "more_info", "status"}; 429 and 5xx are retried (Retry-After honoured),
21610 (the recipient replied STOP) withdraws the client's SMS consent."""

import base64
import urllib.parse

from django.utils.translation import gettext as _

from ..campaigns.delivery import (
    DeliveryBackend,
    DeliveryError,
    PermanentDeliveryError,
    RecipientUnreachable,
)
from ..models import Channel, OutboxMessage
from . import http
from .common import channel_settings_for, vendor_text
from .consent import consent_withdraw, footer
from .models import ChannelSettings, SmsGateway

SMSC_RETRYABLE = {4, 9}
TWILIO_API = "https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json"
TWILIO_UNSUBSCRIBED = 21610


def _form(params: dict) -> bytes:
    return urllib.parse.urlencode(params).encode("utf-8")


def smsc_send(*, channel_settings: ChannelSettings, phone: str, text: str) -> str:
    """Send one SMS through SMSC; returns SMSC's message id."""
    params = {
        "login": channel_settings.smsc_login,
        "psw": channel_settings.smsc_password,
        "phones": phone,
        "mes": text,
        "fmt": 3,
        "charset": "utf-8",
    }
    if channel_settings.smsc_sender:
        params["sender"] = channel_settings.smsc_sender
    request = http.HttpRequest(
        "POST",
        f"https://{channel_settings.smsc_host or 'smsc.ru'}/sys/send.php",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=_form(params),
    )
    try:
        response = http.send(request)
    except http.NetworkError as exc:
        raise DeliveryError(vendor_text("SMSC", None, f"network error: {exc}")) from exc
    if response.status == 429 or response.status >= 500:
        raise DeliveryError(
            vendor_text("SMSC", response.status, response.text[:200]),
            retry_after=http.retry_after_seconds(response),
        )
    data = response.json()
    if not isinstance(data, dict):
        raise DeliveryError(vendor_text("SMSC", response.status, response.text[:200]))
    if "error" in data or "error_code" in data:
        code = data.get("error_code")
        text_ = vendor_text("SMSC", code, data.get("error"))
        if code in SMSC_RETRYABLE:
            raise DeliveryError(text_, retry_after=60)
        raise PermanentDeliveryError(text_)
    if response.status >= 400:
        raise PermanentDeliveryError(vendor_text("SMSC", response.status, response.text[:200]))
    return str(data.get("id") or "")


def twilio_send(*, channel_settings: ChannelSettings, phone: str, text: str) -> str:
    """Send one SMS through Twilio's Messages API; returns the Message SID."""
    params = {"To": phone, "Body": text}
    sender = channel_settings.twilio_from.strip()
    if sender.startswith("MG"):
        params["MessagingServiceSid"] = sender
    else:
        params["From"] = sender
    credentials = f"{channel_settings.twilio_account_sid}:{channel_settings.twilio_auth_token}"
    request = http.HttpRequest(
        "POST",
        TWILIO_API.format(sid=urllib.parse.quote(channel_settings.twilio_account_sid, safe="")),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode("ascii"),
        },
        body=_form(params),
    )
    try:
        response = http.send(request)
    except http.NetworkError as exc:
        raise DeliveryError(vendor_text("Twilio", None, f"network error: {exc}")) from exc
    data = response.json()
    if 200 <= response.status < 300 and isinstance(data, dict) and data.get("sid"):
        return str(data["sid"])
    if not isinstance(data, dict):
        data = {}
    code = data.get("code") or response.status
    text_ = vendor_text("Twilio", code, data.get("message") or response.text[:200])
    if response.status == 429 or response.status >= 500:
        raise DeliveryError(text_, retry_after=http.retry_after_seconds(response))
    if code == TWILIO_UNSUBSCRIBED:
        raise RecipientUnreachable(text_)
    raise PermanentDeliveryError(text_)


def sms_send(*, channel_settings: ChannelSettings, phone: str, text: str) -> str:
    """Send one SMS through the merchant's chosen gateway; returns the vendor's id. Raises
    PermanentDeliveryError when no gateway is connected."""
    if not channel_settings.sms_ready:
        raise not_connected()
    if channel_settings.sms_gateway == SmsGateway.SMSC:
        return smsc_send(channel_settings=channel_settings, phone=phone, text=text)
    return twilio_send(channel_settings=channel_settings, phone=phone, text=text)


def not_connected() -> PermanentDeliveryError:
    return PermanentDeliveryError(
        _(
            "No SMS gateway is connected for this merchant: choose SMSC or Twilio and enter its "
            "credentials in the channel settings."
        )
    )


class SmsBackend(DeliveryBackend):
    """Campaign SMS with the unsubscribe link appended."""

    def send(self, message: OutboxMessage) -> None:
        channel_settings = channel_settings_for(message.merchant_id)
        if channel_settings is None or not channel_settings.sms_ready:
            raise not_connected()
        if not message.recipient:
            raise RecipientUnreachable(_("The client has no phone number."))
        text = message.body
        if message.kind == OutboxMessage.Kind.CAMPAIGN:
            text += footer(client_id=message.client_id, channel=Channel.SMS)
        try:
            message.provider_message_id = sms_send(
                channel_settings=channel_settings, phone=message.recipient, text=text
            )[:100]
        except RecipientUnreachable:
            if message.client is not None:
                consent_withdraw(client=message.client, channel=Channel.SMS, source="sms STOP")
            raise
