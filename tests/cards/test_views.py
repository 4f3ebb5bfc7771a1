"""The client site over HTTP: join with a code read from the outbox, the card, scoping of
sessions, the inbox, the till's partner code and the poster."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from cards.models import CardCounter
from crm.models import Client
from crm.phones import normalize_phone
from loyalty.models import OutboxMessage
from tests.factories import ClientFactory, MerchantFactory, UserFactory


def code_from_outbox(phone):
    phone = normalize_phone(phone, "RU")
    body = OutboxMessage.objects.filter(recipient=phone, client__isnull=True).latest("pk").body
    return re.search(r"\b(\d{6})\b", body).group(1)


def join_over_http(client, merchant, phone="+79130000001", **extra):
    url = reverse("cards:join", args=[merchant.slug])
    data = {"phone": phone, "full_name": "Анна", "consent": "on", **extra}
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:1500]
    verify = reverse("cards:verify", args=[merchant.slug])
    return client.post(verify, {"code": code_from_outbox(phone)})


def test_join_and_card(client, program, merchant):
    page = client.get(reverse("cards:join", args=[merchant.slug]) + "?src=qr")
    assert page.status_code == 200 and merchant.name in page.content.decode()
    response = join_over_http(client, merchant, phone="8 913 000-00-01", src="qr")
    assert response["Location"] == reverse("cards:card", args=[merchant.slug])
    member = Client.objects.get(phone="+79130000001")
    card = client.get(response["Location"]).content.decode()
    assert member.card_code in card and "<svg" in card
    assert CardCounter.objects.get(event="join").channel == "qr"
    assert CardCounter.objects.get(event="view").count == 1


def test_wrong_code_is_refused(client, program, merchant):
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


def test_session_does_not_open_another_merchants_card(client, program, merchant):
    join_over_http(client, merchant)
    other = MerchantFactory()
    response = client.get(reverse("cards:card", args=[other.slug]))
    assert response.status_code == 302
    assert response["Location"] == reverse("cards:join", args=[other.slug])


def test_signin_by_code_and_signout(client, program, merchant):
    join_over_http(client, merchant)
    client.post(reverse("cards:signout", args=[merchant.slug]))
    assert client.get(reverse("cards:card", args=[merchant.slug])).status_code == 302
    client.post(reverse("cards:signin", args=[merchant.slug]), {"phone": "+79130000001"})
    response = client.post(
        reverse("cards:verify", args=[merchant.slug]), {"code": code_from_outbox("+79130000001")}
    )
    assert response.status_code == 302
    assert client.get(reverse("cards:card", args=[merchant.slug])).status_code == 200


def test_signin_of_unknown_phone_sends_nothing(client, program, merchant):
    response = client.post(reverse("cards:signin", args=[merchant.slug]), {"phone": "+79130000009"})
    assert response.status_code == 302  # same next step as for a member
    assert not OutboxMessage.objects.exists()


def test_magic_link_signs_in_member_with_email(client, program, merchant):
    join_over_http(client, merchant)
    Client.objects.update(email="anna@example.com")
    client.post(reverse("cards:signout", args=[merchant.slug]))
    client.post(reverse("cards:signin", args=[merchant.slug]), {"phone": "+79130000001"})
    body = OutboxMessage.objects.get(channel="email").body
    link = re.search(r"https?://\S+", body).group(0)
    response = client.get(link.replace("http://testserver", ""))
    assert response["Location"] == reverse("cards:card", args=[merchant.slug])


def test_inbox_lists_only_own_messages(client, program, merchant):
    join_over_http(client, merchant)
    me = Client.objects.get(phone="+79130000001")
    stranger = ClientFactory(merchant=merchant)
    OutboxMessage.objects.create(merchant=merchant, client=me, channel="console", body="Для вас")
    OutboxMessage.objects.create(
        merchant=merchant, client=stranger, channel="console", body="Чужое"
    )
    page = client.get(reverse("cards:inbox", args=[merchant.slug])).content.decode()
    assert "Для вас" in page and "Чужое" not in page
    assert "your code" not in page.lower()  # one-time codes never show
    assert 'id="push"' not in page  # no VAPID key yet: no subscribe button


def test_consent_withdrawal_from_the_card(client, program, merchant):
    join_over_http(client, merchant)
    client.post(reverse("cards:consent", args=[merchant.slug]), {"consent": "0"})
    assert Client.objects.get().consent is False


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


def test_dashboard_shows_card_stats(client, program, merchant):
    join_over_http(client, merchant, src="qr")
    owner = UserFactory(role="owner")
    merchant.owners.add(owner)
    client.force_login(owner)
    page = client.get(reverse("reports:dashboard", args=[merchant.slug])).content.decode()
    assert 'id="client-card-stats"' in page and 'id="active-cards">1<' in page
