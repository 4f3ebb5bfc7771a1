"""SMS gateways: SMSC (send.php, fmt=3) and Twilio (Messages API) request formats and
errors — bad credentials fail at once with the vendor's words; rate limits, 5xx and network
errors are retried, then fail with the vendor's message."""

import base64

import pytest

from loyalty.campaigns.delivery import MAX_ATTEMPTS, DeliveryError, outbox_deliver
from loyalty.channels import http
from loyalty.channels.models import ChannelOptOut
from loyalty.models import OutboxMessage

from .conftest import issue_message, make_merchant
from .fakes import (
    SMSC_AUTH,
    SMSC_BAD_NUMBER,
    SMSC_DUPLICATE,
    SMSC_OK,
    TWILIO_AUTH,
    TWILIO_CREATED,
    TWILIO_TOO_MANY,
    TWILIO_UNSUBSCRIBED,
    answer,
)

pytestmark = pytest.mark.django_db


def smsc_merchant(**kw):
    return make_merchant(
        sms_gateway="smsc",
        smsc_login="zolotoff",
        smsc_password="p@ss",
        smsc_sender="ZOLOTOFF",
        **kw,
    )


def twilio_merchant(sender="+15017122661"):
    return make_merchant(
        sms_gateway="twilio",
        twilio_account_sid="AC0123456789abcdef0123456789abcdef",
        twilio_auth_token="auth-token-1",
        twilio_from=sender,
    )


def test_smsc_request_format(transport, settings):
    settings.PUBLIC_BASE_URL = "https://portal.example.com"
    message = issue_message(smsc_merchant(smsc_host="smsc.kz"), "sms", phone="+77011234567")
    transport.queue(SMSC_OK)
    assert outbox_deliver(message_id=message.pk) == "sent"
    request = transport.last
    assert (request.method, request.url) == ("POST", "https://smsc.kz/sys/send.php")
    form = transport.form()
    assert form["login"] == "zolotoff" and form["psw"] == "p@ss"
    assert form["phones"] == "+77011234567"
    assert form["fmt"] == "3" and form["charset"] == "utf-8" and form["sender"] == "ZOLOTOFF"
    assert form["mes"].startswith("Анна, ")
    assert "https://portal.example.com/u/" in form["mes"]  # the unsubscribe link
    message.refresh_from_db()
    assert message.provider_message_id == "204"


def test_smsc_bad_login_fails_at_once(transport):
    message = issue_message(smsc_merchant(), "sms")
    transport.queue(SMSC_AUTH)
    assert outbox_deliver(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert message.last_error == "SMSC 2: authorise error"
    assert message.next_attempt_at is None


def test_smsc_bad_number_is_not_retried(transport):
    message = issue_message(smsc_merchant(), "sms")
    transport.queue(SMSC_BAD_NUMBER)
    assert outbox_deliver(message_id=message.pk) == "failed"
    assert OutboxMessage.objects.get().last_error == "SMSC 7: invalid number"


def test_smsc_rate_limit_5xx_network_retried_then_failed(transport):
    message = issue_message(smsc_merchant(), "sms")
    transport.queue(
        SMSC_DUPLICATE,
        answer(503, b"Service Unavailable", {}),
        http.NetworkError("Connection refused"),
        SMSC_DUPLICATE,
    )
    errors = []
    for _attempt in range(MAX_ATTEMPTS - 1):
        with pytest.raises(DeliveryError) as info:
            outbox_deliver(message_id=message.pk)
        errors.append(str(info.value))
    assert errors == [
        "SMSC 9: duplicate request, wait a minute",
        "SMSC 503: Service Unavailable",
        "SMSC: network error: Connection refused",
        "SMSC 9: duplicate request, wait a minute",
    ]
    transport.queue(SMSC_DUPLICATE)
    assert outbox_deliver(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert (message.attempts, message.last_error) == (
        MAX_ATTEMPTS,
        "SMSC 9: duplicate request, wait a minute",
    )


def test_twilio_request_format(transport):
    message = issue_message(twilio_merchant(), "sms", phone="+995599123456")
    transport.queue(TWILIO_CREATED)
    assert outbox_deliver(message_id=message.pk) == "sent"
    request = transport.last
    assert request.url == (
        "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json"
    )
    user, password = (
        base64.b64decode(request.headers["Authorization"].split()[1]).decode().split(":")
    )
    assert (user, password) == ("AC0123456789abcdef0123456789abcdef", "auth-token-1")
    form = transport.form()
    assert form["To"] == "+995599123456" and form["From"] == "+15017122661"
    assert form["Body"].startswith("Анна, ")
    message.refresh_from_db()
    assert message.provider_message_id == "SM1f0e8ae6ade43cb3c0ce4525424e404f"


def test_twilio_messaging_service_sender(transport):
    message = issue_message(twilio_merchant(sender="MG9752274e9e519418a7406176694466fa"), "sms")
    transport.queue(TWILIO_CREATED)
    outbox_deliver(message_id=message.pk)
    form = transport.form()
    assert form["MessagingServiceSid"] == "MG9752274e9e519418a7406176694466fa"
    assert "From" not in form


def test_twilio_bad_credentials_fail_with_twilios_words(transport):
    message = issue_message(twilio_merchant(), "sms")
    transport.queue(TWILIO_AUTH)
    assert outbox_deliver(message_id=message.pk) == "failed"
    assert OutboxMessage.objects.get().last_error == "Twilio 20003: Authenticate"


def test_twilio_429_honours_retry_after(transport):
    message = issue_message(twilio_merchant(), "sms")
    transport.queue(TWILIO_TOO_MANY)
    with pytest.raises(DeliveryError) as info:
        outbox_deliver(message_id=message.pk)
    assert info.value.retry_after == 30
    assert OutboxMessage.objects.get().last_error == "Twilio 20429: Too Many Requests"


def test_twilio_unsubscribed_recipient_withdraws_sms_consent(transport):
    message = issue_message(twilio_merchant(), "sms")
    transport.queue(TWILIO_UNSUBSCRIBED)
    assert outbox_deliver(message_id=message.pk) == "inbox_only"
    assert ChannelOptOut.objects.filter(client=message.client, channel="sms").exists()


def test_no_gateway_connected_fails_with_a_clear_reason(transport):
    message = issue_message(make_merchant(), "sms")
    assert outbox_deliver(message_id=message.pk) == "failed"
    assert "No SMS gateway is connected" in OutboxMessage.objects.get().last_error
    assert transport.requests == []
