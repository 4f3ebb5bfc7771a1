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
