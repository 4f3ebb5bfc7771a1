"""The client site over HTTP: join with a code read from the SMS the merchant's gateway was
asked to send, the card, scoping of sessions, the inbox, the channels on the card, consent,
the till's partner code and the poster."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from cards.models import CardCounter, ConsentRecord, OneTimeCode
from crm.models import Client
from crm.phones import normalize_phone
from loyalty.channels import api as channels_api
from loyalty.channels import http
from loyalty.channels.models import ChannelSettings
from loyalty.models import OutboxMessage
from tests.cards.conftest import connect_sms
from tests.factories import CertificateFactory, ClientFactory, MerchantFactory, UserFactory
from tests.loyalty.channels.fakes import SMSC_AUTH, FakeTransport


def join_over_http(client, merchant, sms, phone="+79130000001", **extra):
    url = reverse("cards:join", args=[merchant.slug])
    data = {"phone": phone, "full_name": "Анна", "consent": "on", **extra}
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:1500]
    verify = reverse("cards:verify", args=[merchant.slug])
    return client.post(verify, {"code": sms.code(normalize_phone(phone, "RU"))})


def test_join_and_card(client, program, merchant, sms):
    page = client.get(reverse("cards:join", args=[merchant.slug]) + "?src=qr")
    assert page.status_code == 200 and merchant.name in page.content.decode()
    response = join_over_http(client, merchant, sms, phone="8 913 000-00-01", src="qr")
    assert response["Location"] == reverse("cards:card", args=[merchant.slug])
    member = Client.objects.get(phone="+79130000001")
    card = client.get(response["Location"]).content.decode()
    assert member.card_code in card and "<svg" in card
    assert CardCounter.objects.get(event="join").channel == "qr"
    assert CardCounter.objects.get(event="view").count == 1


def test_wrong_code_is_refused(client, program, merchant, sms):
    client.post(
        reverse("cards:join", args=[merchant.slug]),
        {"phone": "+79130000001", "full_name": "Анна"},
    )
    response = client.post(reverse("cards:verify", args=[merchant.slug]), {"code": "abc"})
    assert response.status_code == 400
    assert not Client.objects.exists()


def test_bad_phone_is_a_form_error(client, program, merchant):
    response = client.post(
        reverse("cards:join", args=[merchant.slug]), {"phone": "12", "full_name": "Анна"}
    )
    assert response.status_code == 400 and "valid phone" in response.content.decode()
    assert not OutboxMessage.objects.exists()


def test_session_does_not_open_another_merchants_card(client, program, merchant, sms):
    join_over_http(client, merchant, sms)
    other = MerchantFactory()
    response = client.get(reverse("cards:card", args=[other.slug]))
    assert response.status_code == 302
    assert response["Location"] == reverse("cards:join", args=[other.slug])


def test_signin_by_code_and_signout(client, program, merchant, sms):
    join_over_http(client, merchant, sms)
    client.post(reverse("cards:signout", args=[merchant.slug]))
    assert client.get(reverse("cards:card", args=[merchant.slug])).status_code == 302
    client.post(reverse("cards:signin", args=[merchant.slug]), {"phone": "+79130000001"})
    response = client.post(
        reverse("cards:verify", args=[merchant.slug]), {"code": sms.code("+79130000001")}
    )
    assert response.status_code == 302
    assert client.get(reverse("cards:card", args=[merchant.slug])).status_code == 200


def test_signin_of_unknown_phone_sends_nothing(client, program, merchant, sms):
    response = client.post(reverse("cards:signin", args=[merchant.slug]), {"phone": "+79130000009"})
    assert response.status_code == 302  # same next step as for a member
    assert not OutboxMessage.objects.exists() and not sms.requests


def test_magic_link_signs_in_member_with_email(client, program, merchant, sms):
    join_over_http(client, merchant, sms)
    Client.objects.update(email="anna@example.com")
    client.post(reverse("cards:signout", args=[merchant.slug]))
    client.post(reverse("cards:signin", args=[merchant.slug]), {"phone": "+79130000001"})
    body = OutboxMessage.objects.get(channel="email").body
    link = re.search(r"https?://\S+", body).group(0)
    response = client.get(link.replace("http://testserver", ""))
    assert response["Location"] == reverse("cards:card", args=[merchant.slug])


def test_inbox_lists_only_own_messages(client, program, merchant, sms):
    join_over_http(client, merchant, sms)
    me = Client.objects.get(phone="+79130000001")
    stranger = ClientFactory(merchant=merchant)
    OutboxMessage.objects.create(merchant=merchant, client=me, channel="console", body="Для вас")
    OutboxMessage.objects.create(
        merchant=merchant, client=stranger, channel="console", body="Чужое"
    )
    # A member's sign-in code is recorded with the client (kind "code") and must not show.
    client.post(reverse("cards:signout", args=[merchant.slug]))
    client.post(reverse("cards:signin", args=[merchant.slug]), {"phone": "+79130000001"})
    client.post(reverse("cards:verify", args=[merchant.slug]), {"code": sms.code(me.phone)})
    code_record = OutboxMessage.objects.get(client=me, kind="code")
    assert code_record.channel == "sms" and code_record.status == "sent"
    assert sms.code(me.phone) not in code_record.body  # kept masked
    page = client.get(reverse("cards:inbox", args=[merchant.slug])).content.decode()
    assert "Для вас" in page and "Чужое" not in page
    assert code_record.body not in page and "Do not tell it" not in page
    assert 'class="message new"' in page
    # The page was read: the message is no longer new.
    assert OutboxMessage.objects.get(body="Для вас").read_at is not None
    # The merchant's VAPID key (created on first use) is what the subscribe button uses.
    key = ChannelSettings.objects.get(merchant=merchant).vapid_public_key
    assert key and f'data-key="{key}"' in page


def test_consent_withdrawal_from_the_card(client, program, merchant, sms):
    join_over_http(client, merchant, sms)
    client.post(reverse("cards:consent", args=[merchant.slug]), {"consent": "0"})
    member = Client.objects.get()
    assert member.consent is False
    assert list(
        ConsentRecord.objects.filter(client=member).values_list("given", "channel", "source")
    ) == [(False, "", "card page"), (True, "", "card page: joining (link)")]


def test_no_channel_for_codes_is_a_clear_error_and_keeps_the_form(client, program, merchant):
    """Without an SMS gateway, a linked Telegram or the console fallback, nothing can carry
    the code: the client is told so, the form keeps what was typed, nobody joins."""
    url = reverse("cards:join", args=[merchant.slug])
    response = client.post(url, {"phone": "+79130000001", "full_name": "Анна", "consent": "on"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "could not send the code" in page and 'value="Анна"' in page
    assert not Client.objects.exists()
    assert not OutboxMessage.objects.filter(kind="code").exists()  # no channel was tried


def test_gateway_refusal_is_a_clear_error_without_the_vendors_words(
    client, program, merchant, monkeypatch
):
    connect_sms(merchant)
    monkeypatch.setattr(http, "TRANSPORT", FakeTransport(SMSC_AUTH))
    response = client.post(
        reverse("cards:join", args=[merchant.slug]),
        {"phone": "+79130000001", "full_name": "Анна", "consent": "on"},
    )
    page = response.content.decode()
    assert response.status_code == 400 and "could not send the code" in page
    assert "authorise error" not in page
    failed = OutboxMessage.objects.get(kind="code")
    assert (failed.channel, failed.status) == ("sms", "failed")
    assert failed.last_error == "SMSC 2: authorise error"


def test_codes_that_could_not_be_sent_do_not_use_up_the_phones_limit(
    client, program, merchant, sms, settings, monkeypatch
):
    """Three failed sends in a row must not lock the phone out for ten minutes once the
    gateway works again; the address limit still counts every attempt."""
    settings.CARDS_CODES_PER_PHONE_10MIN = 3
    url = reverse("cards:join", args=[merchant.slug])
    data = {"phone": "+79130000009", "full_name": "Анна", "consent": "on"}

    def gateway_down(**kwargs):
        raise channels_api.CodeNotSent("gateway down")

    with monkeypatch.context() as patch:
        patch.setattr(channels_api, "send_one_time_code", gateway_down)
        for _i in range(3):
            assert client.post(url, data).status_code == 400
    failed = OneTimeCode.objects.filter(phone="+79130000009")
    assert failed.count() == 3 and all(row.send_failed for row in failed)
    assert all(row.expires_at <= row.created_at + timedelta(seconds=5) for row in failed)
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:1500]
    client.post(reverse("cards:verify", args=[merchant.slug]), {"code": sms.code("+79130000009")})
    assert Client.objects.filter(phone="+79130000009", joined_at__isnull=False).exists()


def test_console_fallback_carries_codes_in_development(client, program, merchant, settings):
    settings.LOYALTY_OTP_CONSOLE_FALLBACK = True
    response = client.post(
        reverse("cards:join", args=[merchant.slug]),
        {"phone": "+79130000001", "full_name": "Анна", "consent": "on"},
    )
    assert response.status_code == 302
    record = OutboxMessage.objects.get(kind="code")
    assert (record.channel, record.status) == ("console", "sent")


def test_telegram_link_on_the_card_only_when_the_merchant_has_a_bot(client, program, merchant, sms):
    join_over_http(client, merchant, sms)
    card_url = reverse("cards:card", args=[merchant.slug])
    assert "t.me/" not in client.get(card_url).content.decode()
    ChannelSettings.objects.filter(merchant=merchant).update(
        telegram_bot_token="110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        telegram_bot_username="shop_bot",
    )
    page = client.get(card_url).content.decode()
    assert re.search(r'href="https://t\.me/shop_bot\?start=[A-Za-z0-9_-]{1,64}"', page)


def test_push_subscription_refused_with_a_clear_message(client, program, merchant, sms):
    join_over_http(client, merchant, sms)
    url = reverse("cards:push_subscribe", args=[merchant.slug])
    response = client.post(
        url,
        data='{"endpoint": "https://evil.example.com/x", "keys": {"p256dh": "a", "auth": "b"}}',
        content_type="application/json",
    )
    assert response.status_code == 409
    assert "could not be saved" in response.json()["error"]
    assert "known push service" in response.json()["error"]


def test_till_partner_code(client, program, merchant):
    from cards.partners import partner_batch_create
    from onboarding.models import StaffMember

    batch = partner_batch_create(
        merchant=merchant, partner_name="Фитнес", size=2, points=Decimal(300), valid_days=10
    )
    user = UserFactory(role="cashier")
    StaffMember.objects.create(merchant=merchant, user=user, full_name="Кассир")
    client.force_login(user)
    url = reverse("cards:till_partner_code", args=[merchant.slug])
    response = client.post(url, {"phone": "8 913 000 00 07", "code": batch.codes.first().code})
    assert response.status_code == 302
    member = Client.objects.get(phone="+79130000007")
    assert member.source_detail == "Фитнес" and member.certificates.count() == 1
    other = MerchantFactory()
    response = client.post(
        reverse("cards:till_partner_code", args=[other.slug]),
        {"phone": "+79130000008", "code": batch.codes.last().code},
    )
    assert response.status_code == 404


def test_poster_for_visible_merchants_only(client, merchant):
    owner = UserFactory(role="owner")
    merchant.owners.add(owner)
    client.force_login(owner)
    png = client.get(reverse("cards:poster_file", args=[merchant.slug, "png"]))
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    pdf = client.get(reverse("cards:poster_file", args=[merchant.slug, "pdf"]))
    assert pdf.content.startswith(b"%PDF")
    html = client.get(reverse("cards:poster", args=[merchant.slug])).content.decode()
    assert "?src=qr" in html
    other = MerchantFactory()
    assert client.get(reverse("cards:poster", args=[other.slug])).status_code == 404
    assert client.get(reverse("cards:poster_file", args=[merchant.slug, "exe"])).status_code == 404


@pytest.mark.parametrize("payload", [b"\x89PNG\r\n\x1a\n" + b"0" * 20, b"RIFF0000WEBPVP8 "])
def test_logo_accepts_images(payload):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from onboarding.models import validate_logo

    validate_logo(SimpleUploadedFile("a.png", payload))


def test_logo_refuses_svg_and_big_files():
    from django.core.exceptions import ValidationError
    from django.core.files.uploadedfile import SimpleUploadedFile

    from onboarding.models import validate_logo

    with pytest.raises(ValidationError):
        validate_logo(SimpleUploadedFile("a.png", b"<svg onload=alert(1)>"))
    with pytest.raises(ValidationError):
        validate_logo(SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 600_000))


def test_dashboard_shows_card_stats(client, program, merchant, sms):
    from django.utils import timezone

    from loyalty.channels.models import TelegramLink, WebPushSubscription

    join_over_http(client, merchant, sms, src="qr")
    anna = Client.objects.get()
    boris = ClientFactory(merchant=merchant, phone="+79130000099")
    TelegramLink.objects.create(
        merchant=merchant, client=anna, chat_id=1, telegram_user_id=1, linked_at=timezone.now()
    )
    for endpoint in (
        "https://fcm.googleapis.com/fcm/send/a",
        "https://fcm.googleapis.com/fcm/send/b",
    ):
        WebPushSubscription.objects.create(
            merchant=merchant, client=anna, endpoint=endpoint, p256dh="k", auth="a"
        )
    for status in ("sent", "sent", "failed"):
        OutboxMessage.objects.create(
            merchant=merchant, client=anna, channel="telegram", status=status
        )
    OutboxMessage.objects.create(
        merchant=merchant, client=boris, channel="sms", status="inbox_only"
    )
    other = MerchantFactory()  # another merchant's figures stay out
    OutboxMessage.objects.create(merchant=other, channel="telegram", status="failed")
    owner = UserFactory(role="owner")
    merchant.owners.add(owner)
    client.force_login(owner)
    page = client.get(reverse("reports:dashboard", args=[merchant.slug])).content.decode()
    assert 'id="client-card-stats"' in page and 'id="active-cards">1<' in page
    assert 'id="telegram-linked">1<' in page
    assert 'id="webpush-clients">1<' in page  # two browsers, one client
    telegram = re.search(r'<tr id="channel-telegram">(.*?)</tr>', page).group(1)
    assert re.findall(r'class="num[^"]*">([^<]*)<', telegram) == ["3", "2", "0", "1", "67%"]
    sms_row = re.search(r'<tr id="channel-sms">(.*?)</tr>', page).group(1)
    assert sms_row.endswith('<td class="num rate">0%</td>')
    # The one-time code SMS of the join is not a campaign message: no "sms" sent counted.
    assert re.findall(r'class="num[^"]*">([^<]*)<', sms_row) == ["1", "0", "1", "0", "0%"]
    # A period before these messages shows none.
    page = client.get(
        reverse("reports:dashboard", args=[merchant.slug]) + "?start=2020-01-01&end=2020-01-31"
    ).content.decode()
    assert "No campaign messages in this period." in page


def test_card_shows_a_certificates_remaining_value(client, program, merchant, sms):
    join_over_http(client, merchant, sms)
    member = Client.objects.get(phone="+79130000001")
    CertificateFactory(client=member, points=Decimal(2000), used_points=Decimal(1000))
    page = client.get(reverse("cards:card", args=[merchant.slug])).content.decode()
    section = page[page.index('id="certificates"') :]
    assert "<b>1000</b>" in section and "2000" in section
