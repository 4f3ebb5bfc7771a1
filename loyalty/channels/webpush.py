"""Web push to the client's card (VAPID, RFC 8292; payload encryption aes128gcm by
`pywebpush`), over the shared HTTP transport: pywebpush encrypts and builds the request, our
transport sends it, so tests replay recorded push-service answers.

Per merchant: one VAPID key pair (generated on first need or from the admin). Per client: the
browser subscriptions the card registers. Push services answer 201 on success, 404/410 for a
subscription that is gone (removed here), 429 or 5xx for "later" (retried), other 4xx for a
request they refuse."""

import base64
import json
import time
import urllib.parse

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..campaigns.delivery import (
    DeliveryBackend,
    DeliveryError,
    PermanentDeliveryError,
    RecipientUnreachable,
)
from ..models import Channel, OutboxMessage
from ..services.errors import LoyaltyError
from . import http
from .common import channel_settings_for, channel_settings_get_or_create, vendor_text
from .consent import absolute_url, consent_restore, unsubscribe_url
from .models import ChannelSettings, WebPushSubscription

TTL_SECONDS = 24 * 3600
GONE = {404, 410}
MAX_BODY = 1000


class SubscriptionError(LoyaltyError):
    """A subscription the card sent is not a usable push subscription."""


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def vapid_generate(*, channel_settings: ChannelSettings) -> str:
    """A new VAPID key pair for the merchant; returns the public key (the browser's
    applicationServerKey). Existing subscriptions were made for the old key and are
    removed: browsers must subscribe again."""
    # Function-level: pywebpush and py_vapid (aiohttp, …) take ~0.2–0.5 s to import, which
    # every process paid at start-up through the admin; only sending and key generation use them.
    from py_vapid import Vapid02

    vapid = Vapid02()
    vapid.generate_keys()
    public = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    with transaction.atomic():
        channel_settings.vapid_private_key = vapid.private_pem().decode("ascii")
        channel_settings.vapid_public_key = _b64url(public)
        channel_settings.save(update_fields=["vapid_private_key", "vapid_public_key"])
        WebPushSubscription.objects.filter(merchant_id=channel_settings.merchant_id).delete()
    return channel_settings.vapid_public_key


def webpush_public_key(*, merchant) -> str:
    """The merchant's VAPID public key (base64url, for PushManager.subscribe's
    applicationServerKey), generated on first use."""
    channel_settings = channel_settings_get_or_create(merchant_id=merchant.pk)
    if channel_settings.vapid_public_key and channel_settings.vapid_private_key:
        return channel_settings.vapid_public_key
    with transaction.atomic():
        locked = ChannelSettings.objects.select_for_update().get(pk=channel_settings.pk)
        if locked.vapid_public_key and locked.vapid_private_key:
            return locked.vapid_public_key
        return vapid_generate(channel_settings=locked)


def _endpoint_allowed(endpoint: str) -> bool:
    parts = urllib.parse.urlsplit(endpoint)
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme != "https" or not host:
        return False
    return any(
        host == suffix or host.endswith("." + suffix)
        for suffix in settings.WEBPUSH_ALLOWED_HOST_SUFFIXES
    )


def webpush_subscribe(*, client, subscription: dict) -> WebPushSubscription:
    """Store a browser's PushSubscription.toJSON() ({"endpoint", "keys": {"p256dh",
    "auth"}}) for the client's card; the same endpoint moves to this client if another card
    had it. Raises SubscriptionError with a clear message for anything else, including an
    endpoint outside the known push services (WEBPUSH_ALLOWED_HOST_SUFFIXES)."""
    if not isinstance(subscription, dict):
        raise SubscriptionError(_("The subscription must be an object."))
    endpoint = subscription.get("endpoint")
    keys = subscription.get("keys")
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > 1000:
        raise SubscriptionError(_("The subscription has no valid endpoint."))
    if not _endpoint_allowed(endpoint):
        raise SubscriptionError(_("The subscription's endpoint is not a known push service."))
    if not isinstance(keys, dict):
        raise SubscriptionError(_("The subscription has no keys."))
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    try:
        if len(_b64url_decode(str(p256dh))) != 65 or len(_b64url_decode(str(auth))) != 16:
            raise ValueError
    except (ValueError, TypeError):
        raise SubscriptionError(_("The subscription's keys are malformed.")) from None
    webpush_public_key(merchant=client.merchant)  # keys exist before anything is sent
    with transaction.atomic():
        record, _created = WebPushSubscription.objects.update_or_create(
            merchant_id=client.merchant_id,
            endpoint=endpoint,
            defaults={"client": client, "p256dh": p256dh, "auth": auth},
        )
        consent_restore(client=client, channel=Channel.WEB_PUSH, source="web push subscribed")
    return record


class _Response:
    """What pywebpush reads from a `requests` response, over our HttpResponse."""

    def __init__(self, response: http.HttpResponse):
        self.status_code = response.status
        self.text = response.text
        self.headers = response.headers
        self.reason = ""
        self.raw = response


class _TransportSession:
    """A requests-like session whose post() goes through `http.TRANSPORT`."""

    def post(self, url, data=None, headers=None, timeout=None, **_kwargs):
        request = http.HttpRequest(
            "POST", url, headers=dict(headers or {}), body=data, timeout=timeout or 10
        )
        return _Response(http.send(request))


def _vapid_headers(channel_settings: ChannelSettings, endpoint: str) -> dict:
    from py_vapid import Vapid02  # function-level: slow to import (see vapid_generate)

    vapid = Vapid02.from_pem(channel_settings.vapid_private_key.encode("ascii"))
    parts = urllib.parse.urlsplit(endpoint)
    contact = channel_settings.vapid_contact or f"mailto:{settings.DEFAULT_FROM_EMAIL}"
    claims = {
        "sub": contact,
        "aud": f"{parts.scheme}://{parts.netloc}",
        "exp": int(time.time()) + 12 * 3600,
    }
    return dict(vapid.sign(claims))


def webpush_send(*, channel_settings: ChannelSettings, client_id: int, payload: dict) -> int:
    """Push `payload` (JSON) to every subscription of the client; returns how many
    accepted it. Gone subscriptions (404/410) are deleted. Raises RecipientUnreachable when
    there is none left, DeliveryError when the only answers were 'later' (429/5xx/network),
    PermanentDeliveryError when push services refused."""
    subscriptions = list(
        WebPushSubscription.objects.filter(
            merchant_id=channel_settings.merchant_id, client_id=client_id
        ).order_by("pk")
    )
    if not subscriptions:
        raise RecipientUnreachable(_("The client has not turned on notifications on the card."))
    if not channel_settings.vapid_private_key:
        raise PermanentDeliveryError(_("The merchant has no web push keys: generate them."))
    from pywebpush import WebPusher  # function-level: slow to import (see vapid_generate)

    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    delivered, gone, retry_error, refused = 0, [], None, None
    session = _TransportSession()
    for sub in subscriptions:
        info = {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
        host = urllib.parse.urlsplit(sub.endpoint).hostname
        try:
            response = WebPusher(info, requests_session=session).send(
                data,
                _vapid_headers(channel_settings, sub.endpoint),
                ttl=TTL_SECONDS,
                timeout=10,
            )
        except http.NetworkError as exc:
            retry_error = DeliveryError(
                vendor_text(f"Web push ({host})", None, f"network error: {exc}")
            )
            continue
        status = response.status_code
        if 200 <= status < 300:
            delivered += 1
            WebPushSubscription.objects.filter(pk=sub.pk).update(last_success_at=timezone.now())
        elif status in GONE:
            gone.append(sub.pk)
        elif status == 429 or status >= 500:
            retry_error = DeliveryError(
                vendor_text(f"Web push ({host})", status, response.text[:200]),
                retry_after=http.retry_after_seconds(response.raw),
            )
        else:
            refused = PermanentDeliveryError(
                vendor_text(f"Web push ({host})", status, response.text[:200])
            )
    if gone:
        WebPushSubscription.objects.filter(pk__in=gone).delete()
    if delivered:
        return delivered
    if retry_error is not None:
        raise retry_error
    if refused is not None:
        raise refused
    raise RecipientUnreachable(
        _("The client's notification subscriptions have expired and were removed.")
    )


class WebPushBackend(DeliveryBackend):
    """A notification with the message's subject and text that opens the card; the payload
    carries the unsubscribe link for the card's service worker to offer."""

    def send(self, message: OutboxMessage) -> None:
        channel_settings = channel_settings_for(message.merchant_id)
        if channel_settings is None or message.client_id is None:
            raise RecipientUnreachable(_("The client has not turned on notifications on the card."))
        merchant = message.merchant
        payload = {
            "title": message.subject or merchant.name,
            "body": message.body[:MAX_BODY],
            "url": absolute_url(f"/c/{merchant.slug}/"),
            "tag": f"message-{message.pk}",
        }
        if message.kind == OutboxMessage.Kind.CAMPAIGN:
            payload["unsubscribe"] = unsubscribe_url(
                client_id=message.client_id, channel=Channel.WEB_PUSH
            )
        count = webpush_send(
            channel_settings=channel_settings, client_id=message.client_id, payload=payload
        )
        message.provider_message_id = f"{count} device(s)"
