import pytest

from loyalty.channels import http
from loyalty.channels.models import ChannelSettings
from tests.loyalty.channels.fakes import SmsGatewayFake


def connect_sms(merchant) -> None:
    """The merchant's SMS gateway as a merchant configures it in the admin."""
    ChannelSettings.objects.update_or_create(
        merchant=merchant,
        defaults={"sms_gateway": "smsc", "smsc_login": "shop", "smsc_password": "secret"},
    )


@pytest.fixture
def sms(monkeypatch, merchant):
    """The merchant has an SMSC gateway; its HTTP API is replaced by a fake that accepts
    every message. One-time codes are read from the SMS the fake received."""
    fake = SmsGatewayFake()
    monkeypatch.setattr(http, "TRANSPORT", fake)
    connect_sms(merchant)
    return fake
