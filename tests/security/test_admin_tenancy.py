"""Every admin page of a tenant-owned model, opened by a specialist of another merchant, a
partner or an owner: nothing of merchant B shows, and nothing of it changes."""

import pytest
from django.contrib import admin
from django.urls import reverse

from onboarding.admin_base import merchant_lookup_for

pytestmark = pytest.mark.django_db

# (world key, admin url name) of records merchant B owns.
B_RECORDS = [
    ("merchant", "onboarding_merchant"),
    ("branch", "onboarding_branch"),
    ("staff", "onboarding_staffmember"),
    ("client", "crm_client"),
    ("purchase", "loyalty_purchase"),
    ("campaign", "loyalty_campaign"),
    ("segment", "crm_segment"),
    ("review", "crm_review"),
    ("module", "onboarding_trainingmodule"),
    ("task", "onboarding_merchanttask"),
    ("period", "onboarding_bonusperiod"),
    ("batch", "crm_importbatch"),
]


def _pk(world, key):
    obj = world["b"][key]
    return obj.pk


@pytest.mark.parametrize("key,name", B_RECORDS)
@pytest.mark.parametrize("view", ["change", "history", "delete"])
def test_specialist_cannot_open_other_merchants_record(client, world, key, name, view):
    client.force_login(world["spec_a"])
    url = reverse(f"admin:{name}_{view}", args=[_pk(world, key)])
    response = client.get(url)
    # The admin answers "does not exist" with a redirect to the index (or 404); pages the
    # role may never open (delete of history records) are 403 before any look-up.
    assert response.status_code in (302, 403, 404), (url, response.status_code)
    if response.status_code == 302:
        assert response["Location"] == reverse("admin:index")


@pytest.mark.parametrize("key,name", B_RECORDS)
def test_specialist_cannot_delete_other_merchants_record(client, world, key, name):
    client.force_login(world["spec_a"])
    url = reverse(f"admin:{name}_delete", args=[_pk(world, key)])
    client.post(url, {"post": "yes"})
    obj = world["b"][key]
    assert type(obj)._default_manager.filter(pk=obj.pk).exists()


@pytest.mark.parametrize("key,name", B_RECORDS)
def test_changelists_show_no_other_merchant(client, world, key, name):
    client.force_login(world["spec_a"])
    response = client.get(reverse(f"admin:{name}_changelist"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Bravo" not in body, name
    # Filters and search must not bring merchant B back.
    response = client.get(
        reverse(f"admin:{name}_changelist"), {"merchant__id__exact": world["b"]["merchant"].pk}
    )
    assert "Bravo" not in response.content.decode()


def test_every_domain_admin_is_scoped():
    """A new admin of a tenant-owned model that forgets the scoping base fails here."""
    from onboarding.admin_base import ScopedMixin

    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("onboarding", "loyalty", "crm", "reports"):
            continue
        assert isinstance(model_admin, ScopedMixin), model
        if model._meta.proxy or model._meta.model_name in ("checklisttemplate",):
            continue  # proxy scoped explicitly; templates are shared by design
        assert merchant_lookup_for(model) is not None, model
        for inline in model_admin.inlines:
            assert issubclass(inline, ScopedMixin), inline


def test_autocomplete_and_raw_id_popup_are_scoped(client, world):
    client.force_login(world["spec_a"])
    response = client.get(
        reverse("admin:crm_client_changelist"), {"_to_field": "id", "_popup": "1", "q": "Client"}
    )
    body = response.content.decode()
    assert "Alpha Client" in body and "Bravo Client" not in body
    response = client.get(
        reverse("admin:autocomplete"),
        {"term": "", "app_label": "loyalty", "model_name": "campaign", "field_name": "merchant"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert world["a"]["merchant"].name in body and "Bravo" not in body


def test_partner_cannot_change_or_run_actions(client, world):
    client.force_login(world["partner_a"])
    a = world["a"]
    url = reverse("admin:crm_client_change", args=[a["client"].pk])
    assert client.get(url).status_code == 200
    client.post(
        url, {"full_name": "Changed", "merchant": a["merchant"].pk, "phone": "+79131000001"}
    )
    a["client"].refresh_from_db()
    assert a["client"].full_name == "Alpha Client"
    # Delete is refused.
    assert (
        client.post(
            reverse("admin:crm_client_delete", args=[a["client"].pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    # list_editable through the changelist is refused.
    client.post(
        reverse("admin:onboarding_merchanttask_changelist"),
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": a["task"].pk,
            "form-0-status": "done",
            "_save": "Save",
        },
    )
    a["task"].refresh_from_db()
    assert a["task"].status != "done"


def test_partner_cannot_retry_outbox_delivery(client, world):
    """The retry action writes (re-queues messages): it needs the change permission."""
    from loyalty.models import OutboxMessage

    a = world["a"]
    message = OutboxMessage.objects.create(
        merchant=a["merchant"],
        client=a["client"],
        channel="console",
        recipient="x",
        body="hi",
        status=OutboxMessage.Status.FAILED,
        attempts=5,
        last_error="boom",
    )
    client.force_login(world["partner_a"])
    response = client.post(
        reverse("admin:loyalty_outboxmessage_changelist"),
        {"action": "retry_delivery", "_selected_action": [message.pk]},
    )
    assert response.status_code in (200, 302, 403)
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED and message.attempts == 5


def test_specialist_actions_ignore_other_merchants_ids(client, world):
    """Admin actions act on the scoped queryset: ids of merchant B in the POST are dropped."""
    b = world["b"]
    client.force_login(world["spec_a"])
    client.post(
        reverse("admin:onboarding_merchanttask_changelist"),
        {"action": "mark_done", "_selected_action": [b["task"].pk]},
    )
    b["task"].refresh_from_db()
    assert b["task"].status != "done"
    client.post(
        reverse("admin:onboarding_bonusperiod_changelist"),
        {"action": "close_periods", "_selected_action": [b["period"].pk]},
    )
    b["period"].refresh_from_db()
    assert b["period"].status == "open"


def test_owner_and_cashier_have_no_admin(client, world):
    for user in (world["owner_a"], world["cashier_a"]):
        client.force_login(user)
        for url in (
            reverse("admin:index"),
            reverse("admin:crm_client_changelist"),
            reverse("admin:onboarding_progress"),
            reverse("admin:onboarding_staff_bonus"),
            reverse("admin:loyalty_campaign_segment_gift"),
            reverse("admin:crm_importbatch_report", args=[world["a"]["batch"].pk]),
        ):
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_anonymous_is_sent_to_login(client, world):
    a = world["a"]
    for url in (
        reverse("home"),
        reverse("reports:portfolio"),
        reverse("reports:dashboard", args=["alpha"]),
        reverse("reports:dashboard_xlsx", args=["alpha"]),
        reverse("reports:case_study", args=["alpha"]),
        reverse("reports:segment_export", args=["alpha", "champions", "csv"]),
        reverse("loyalty:cashier", args=["alpha"]),
        reverse("loyalty:cashier_purchases", args=["alpha"]),
        reverse("loyalty:cashier_refund", args=["alpha", a["purchase"].pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"], url
    response = client.get(reverse("admin:crm_client_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_manual_adjustment_is_scoped_and_needs_change(client, world):
    from loyalty.models import LedgerEntry

    b = world["b"]
    before = LedgerEntry.objects.count()
    client.force_login(world["spec_a"])
    url = reverse("admin:loyalty_ledgerentry_adjust", args=[b["client"].pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"points": "1000", "reason": "gift"}).status_code == 404
    client.force_login(world["partner_a"])
    url = reverse("admin:loyalty_ledgerentry_adjust", args=[world["a"]["client"].pk])
    assert client.post(url, {"points": "1000", "reason": "gift"}).status_code == 403
    assert LedgerEntry.objects.count() == before


def test_segment_gift_refuses_other_merchants_campaign_and_segment(client, world):
    from loyalty.models import CampaignIssuance

    a, b = world["a"], world["b"]
    url = reverse("admin:loyalty_campaign_segment_gift")
    client.force_login(world["spec_a"])
    for campaign, segment in (
        (b["gift"], b["segment"]),
        (a["gift"], b["segment"]),
        (b["gift"], a["segment"]),
    ):
        response = client.post(url, {"campaign": campaign.pk, "segment": segment.pk, "send": "1"})
        assert response.status_code == 200  # the form redisplayed with an error
    body = client.get(url, {"campaign": b["gift"].pk}).content.decode()
    assert "Bravo" not in body
    client.force_login(world["partner_a"])
    response = client.post(url, {"campaign": a["gift"].pk, "segment": a["segment"].pk, "send": "1"})
    assert response.status_code == 403
    assert not CampaignIssuance.objects.exists()


def test_import_batch_pages_are_scoped(client, world):
    b = world["b"]["batch"]
    client.force_login(world["spec_a"])
    for name in ("crm_importbatch_progress", "crm_importbatch_report"):
        assert client.get(reverse(f"admin:{name}", args=[b.pk])).status_code == 404, name
    assert client.post(reverse("admin:crm_importbatch_confirm", args=[b.pk])).status_code == 404
    client.force_login(world["partner_a"])
    a = world["a"]["batch"]
    assert client.post(reverse("admin:crm_importbatch_confirm", args=[a.pk])).status_code == 403


def test_case_study_admin_is_scoped(client, world):
    client.force_login(world["spec_a"])
    body = client.get(reverse("admin:reports_casestudy_changelist")).content.decode()
    assert "Alpha" in body and "Bravo" not in body
    response = client.post(
        reverse("admin:reports_casestudy_changelist"),
        {"action": "download_case_study", "_selected_action": [world["b"]["merchant"].pk]},
    )
    assert "attachment" not in response.get("Content-Disposition", "")
