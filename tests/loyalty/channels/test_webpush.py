"""Web push: VAPID keys per merchant, subscriptions checked (only known push services),
the encrypted request a push service receives, gone subscriptions (404/410) removed, 429
retried with Retry-After."""

import base64
import json
import os

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from loyalty.campaigns.delivery import DeliveryError, outbox_deliver
from loyalty.channels.models import WebPushSubscription
from loyalty.channels.webpush import SubscriptionError, webpush_public_key, webpush_subscribe
from loyalty.models import OutboxMessage

from .conftest import issue_message, make_merchant
from .fakes import PUSH_CREATED, PUSH_GONE, PUSH_NOT_FOUND, PUSH_TOO_MANY

pytestmark = pytest.mark.django_db


def b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def browser_keys():
    """What a browser makes for a subscription: a P-256 key pair and a 16-byte secret."""
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    auth = os.urandom(16)
    return private, auth, {"p256dh": b64(public), "auth": b64(auth)}


def subscribed_message(endpoints=("https://fcm.googleapis.com/fcm/send/abc:APA91b",)):
    merchant = make_merchant()
    message = issue_message(merchant, "web_push")
    keys = []
    for endpoint in endpoints:
        private, auth, sub_keys = browser_keys()
        webpush_subscribe(
            client=message.client, subscription={"endpoint": endpoint, "keys": sub_keys}
        )
        keys.append((private, auth))
    return message, keys


def test_keys_are_generated_once_per_merchant():
    merchant = make_merchant()
    key = webpush_public_key(merchant=merchant)
    assert len(base64.urlsafe_b64decode(key + "==")) == 65  # an uncompressed P-256 point
    assert webpush_public_key(merchant=merchant) == key


@pytest.mark.parametrize(
    "subscription",
    [
        "not a dict",
        {"endpoint": "http://fcm.googleapis.com/x", "keys": {}},
        {"endpoint": "https://127.0.0.1:6379/x", "keys": {}},
        {"endpoint": "https://evil.example.com/fcm.googleapis.com", "keys": {}},
        {"endpoint": "https://fcm.googleapis.com/x", "keys": {"p256dh": "AAAA", "auth": "AAAA"}},
        {"endpoint": "https://fcm.googleapis.com/x"},
    ],
)
def test_bad_subscriptions_are_refused(subscription):
    message = issue_message(make_merchant(), "web_push")
    with pytest.raises(SubscriptionError):
        webpush_subscribe(client=message.client, subscription=subscription)
    assert not WebPushSubscription.objects.exists()


def test_push_request_is_vapid_signed_and_encrypted_for_the_browser(transport, settings):
    settings.PUBLIC_BASE_URL = "https://portal.example.com"
    message, [(private, auth)] = subscribed_message()
    transport.queue(PUSH_CREATED)
    assert outbox_deliver(message_id=message.pk) == "sent"
    request = transport.last
    assert request.url == "https://fcm.googleapis.com/fcm/send/abc:APA91b"
    headers = {k.lower(): v for k, v in request.headers.items()}
    public_key = message.merchant.channel_settings.vapid_public_key
    assert headers["authorization"].startswith("vapid t=")
    assert f"k={public_key}" in headers["authorization"]
    assert headers["content-encoding"] == "aes128gcm"
    assert int(headers["ttl"]) > 0
    payload = json.loads(
        http_ece.decrypt(request.body, private_key=private, auth_secret=auth, version="aes128gcm")
    )
    assert payload["body"].startswith("Анна, ")
    assert payload["url"] == "https://portal.example.com/c/zolotoff-ch/"
    assert payload["unsubscribe"].startswith("https://portal.example.com/u/")


def test_gone_subscriptions_are_removed(transport):
    message, _keys = subscribed_message(
        [
            "https://fcm.googleapis.com/fcm/send/a",
            "https://updates.push.services.mozilla.com/wpush/v2/b",
        ]
    )
    transport.queue(PUSH_NOT_FOUND, PUSH_CREATED)
    assert outbox_deliver(message_id=message.pk) == "sent"
    assert list(WebPushSubscription.objects.values_list("endpoint", flat=True)) == [
        "https://updates.push.services.mozilla.com/wpush/v2/b"
    ]
    second = OutboxMessage.objects.create(
        merchant=message.merchant, client=message.client, channel="web_push", body="again"
    )
    transport.queue(PUSH_GONE)
    assert outbox_deliver(message_id=second.pk) == "inbox_only"
    assert not WebPushSubscription.objects.exists()


def test_push_service_429_is_retried_after_its_retry_after(transport):
    message, _keys = subscribed_message()
    transport.queue(PUSH_TOO_MANY)
    with pytest.raises(DeliveryError) as info:
        outbox_deliver(message_id=message.pk)
    assert info.value.retry_after == 120
    assert OutboxMessage.objects.get(pk=message.pk).last_error == (
        "Web push (fcm.googleapis.com) 429: Too Many Requests"
    )


def test_no_subscription_means_inbox_only(transport):
    message = issue_message(make_merchant(), "web_push")
    assert outbox_deliver(message_id=message.pk) == "inbox_only"
    assert transport.requests == []
