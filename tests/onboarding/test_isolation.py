"""Specialists see and pick only their merchants; partners read only; owners/cashiers no admin."""

import pytest
from django.urls import reverse

from crm.models import Client
from loyalty.program import program_for
from tests.factories import ClientFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    alice = UserFactory(username="alice", role="specialist")
    bob = UserFactory(username="bob", role="specialist")
    mine = MerchantFactory(name="Mine", slug="mine")
    theirs = MerchantFactory(name="Theirs", slug="theirs")
    mine.specialists.add(alice)
    theirs.specialists.add(bob)
    program_for(mine)
    program_for(theirs)
    return {"alice": alice, "bob": bob, "mine": mine, "theirs": theirs}


def login(client, user):
    client.force_login(user)
    return client


def test_specialist_lists_only_own_merchants(client, world):
    login(client, world["alice"])
    response = client.get(reverse("admin:onboarding_merchant_changelist"))
    assert response.status_code == 200
    assert "Mine" in response.content.decode()
    assert "Theirs" not in response.content.decode()


def test_specialist_cannot_open_other_merchant(client, world):
    login(client, world["alice"])
    url = reverse("admin:onboarding_merchant_change", args=[world["theirs"].pk])
    response = client.get(url, follow=True)
    assert "Theirs" not in response.content.decode().split("<main")[-1]
    assert response.redirect_chain and response.redirect_chain[-1][0].endswith("/admin/")
    program_url = reverse("admin:loyalty_program_change", args=[world["theirs"].program.pk])
    assert client.get(program_url).status_code == 302
    # And cannot change it by posting either.
    client.post(url, {"name": "Hacked"})
    world["theirs"].refresh_from_db()
    assert world["theirs"].name == "Theirs"


def test_specialist_cannot_pick_other_merchant(client, world):
    login(client, world["alice"])
    response = client.get(reverse("admin:crm_client_add"))
    body = response.content.decode()
    assert f'value="{world["mine"].pk}"' in body
    assert f'value="{world["theirs"].pk}"' not in body
    response = client.post(
        reverse("admin:crm_client_add"),
        {
            "merchant": world["theirs"].pk,
            "phone": "+79130000001",
            "source": "organic",
            "balance": "0",
            "total_spent": "0",
            "purchases_count": "0",
        },
    )
    assert response.status_code == 200  # form redisplayed with an error
    assert not Client.objects.filter(merchant=world["theirs"]).exists()


def test_autocomplete_is_scoped(client, world):
    login(client, world["alice"])
    ClientFactory(merchant=world["mine"], full_name="Visible Person")
    ClientFactory(merchant=world["theirs"], full_name="Hidden Person")
    response = client.get(
        reverse("admin:autocomplete"),
        {
            "term": "Person",
            "app_label": "crm",
            "model_name": "review",
            "field_name": "client",
        },
    )
    # raw-id fields aside, the client changelist search is scoped too
    response = client.get(reverse("admin:crm_client_changelist"), {"q": "Person"})
    body = response.content.decode()
    assert "Visible Person" in body and "Hidden Person" not in body


def test_partner_reads_but_cannot_change(client, world):
    partner = UserFactory(username="pat", role="partner")
    world["mine"].partner = partner
    world["mine"].save()
    login(client, partner)
    assert client.get(reverse("admin:onboarding_merchant_changelist")).status_code == 200
    url = reverse("admin:onboarding_merchant_change", args=[world["mine"].pk])
    response = client.get(url)
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    client.post(url, {"name": "Changed by partner"})
    world["mine"].refresh_from_db()
    assert world["mine"].name == "Mine"
    other = reverse("admin:onboarding_merchant_change", args=[world["theirs"].pk])
    assert client.get(other).status_code == 302


def test_owner_and_cashier_have_no_admin(client, world):
    owner = UserFactory(username="own", role="owner")
    world["mine"].owners.add(owner)
    login(client, owner)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    home = client.get(reverse("home"))
    assert "Mine" in home.content.decode() and "Theirs" not in home.content.decode()


def test_specialist_creating_merchant_is_assigned(client, world):
    login(client, world["alice"])
    data = {
        "name": "New shop",
        "slug": "new-shop",
        "business_type": "retail",
        "country": "RU",
        "currency": "RUB",
        "time_zone": "Europe/Moscow",
        "onboarding_status": "draft",
        "pos_integration": "none",
        "previous_discount_percent": "5",
        "platform_traffic_share_percent": "20",
        "adoption_target_percent": "80",
    }
    for prefix in ("branches", "point_a_items", "staff"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = client.post(reverse("admin:onboarding_merchant_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    from onboarding.models import Merchant

    created = Merchant.objects.get(slug="new-shop")
    assert world["alice"] in created.specialists.all()
    assert hasattr(created, "program")


def test_time_zone_is_validated(client, world):
    login(client, world["alice"])
    data = {
        "name": "Bad tz",
        "slug": "bad-tz",
        "business_type": "retail",
        "country": "RU",
        "currency": "RUB",
        "time_zone": "Mars/Olympus",
        "onboarding_status": "draft",
        "pos_integration": "none",
        "previous_discount_percent": "5",
        "platform_traffic_share_percent": "20",
        "adoption_target_percent": "80",
    }
    for prefix in ("branches", "point_a_items", "staff"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = client.post(reverse("admin:onboarding_merchant_add"), data)
    assert response.status_code == 200
    assert "Mars/Olympus" in response.content.decode()


def test_list_filters_do_not_leak_other_merchants(client, world):
    ClientFactory(merchant=world["mine"])
    ClientFactory(merchant=world["theirs"])
    login(client, world["alice"])
    body = client.get(reverse("admin:crm_client_changelist")).content.decode()
    assert "Theirs" not in body
    body = client.get(reverse("admin:loyalty_campaign_changelist")).content.decode()
    assert "Theirs" not in body


def test_role_groups_hold_permissions_of_every_domain_app():
    from django.contrib.auth.models import Group

    specialist = Group.objects.get(name="specialist")
    apps_with_perms = set(
        specialist.permissions.values_list("content_type__app_label", flat=True).distinct()
    )
    assert {"onboarding", "loyalty", "crm", "reports"} <= apps_with_perms
    codenames = set(specialist.permissions.values_list("codename", flat=True))
    assert "change_tier" in codenames and "view_ledgerentry" in codenames
    assert "add_ledgerentry" not in codenames and "delete_merchant" not in codenames
    partner = Group.objects.get(name="partner")
    assert all(
        c.startswith("view_") for c in partner.permissions.values_list("codename", flat=True)
    )
