"""POS credentials are for the people who configure the merchant: a read-only partner's
merchant page does not show them."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_partner_does_not_see_pos_credentials(client, world):
    merchant = world["a"]["merchant"]
    merchant.poster_account = "alpha-account"
    merchant.poster_client_secret = "s3cr3t-client-secret"
    merchant.poster_api_token = "t0ken-api-token"
    merchant.save()
    url = reverse("admin:onboarding_merchant_change", args=[merchant.pk])
    client.force_login(world["partner_a"])
    body = client.get(url).content.decode()
    assert "Alpha" in body
    assert "s3cr3t-client-secret" not in body and "t0ken-api-token" not in body
    # The specialist who configures the merchant still can.
    client.force_login(world["spec_a"])
    body = client.get(url).content.decode()
    assert "s3cr3t-client-secret" in body


def test_partner_does_not_see_channel_secrets(client, world):
    from loyalty.channels.models import ChannelSettings

    merchant = world["a"]["merchant"]
    settings_ = ChannelSettings.objects.create(
        merchant=merchant,
        telegram_bot_token="123:tg-s3cr3t-token",
        telegram_bot_username="alpha_bot",
        sms_gateway="twilio",
        twilio_account_sid="AC-alpha",
        twilio_auth_token="tw-s3cr3t-token",
        twilio_from="+15005550006",
        smsc_password="smsc-s3cr3t",
    )
    url = reverse("admin:loyalty_channelsettings_change", args=[settings_.pk])
    client.force_login(world["partner_a"])
    body = client.get(url).content.decode()
    assert "alpha_bot" in body
    for secret in ("tg-s3cr3t-token", "tw-s3cr3t-token", "smsc-s3cr3t"):
        assert secret not in body
    client.force_login(world["spec_a"])
    body = client.get(url).content.decode()
    assert "tw-s3cr3t-token" in body
    # Another specialist's merchant is out of reach.
    client.force_login(world["spec_b"])
    assert client.get(url).status_code in (302, 404)
