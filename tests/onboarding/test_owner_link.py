"""The owner link: signed, expiring, revocable, read-only, logged on use, one merchant only."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from loyalty.models import Purchase
from onboarding.models import (
    ChecklistSide,
    MerchantTask,
    OnboardingEvent,
    OwnerLink,
    OwnerLinkUse,
    TaskStatus,
)
from onboarding.owner_link import owner_link_create, owner_link_revoke, owner_progress
from tests.factories import ClientFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def specialist(merchant):
    user = UserFactory(username="spec", role="specialist")
    merchant.specialists.add(user)
    return user


def _path(url: str) -> str:
    return url.replace("http://testserver", "")


def _link(merchant, specialist, **kwargs):
    return owner_link_create(
        merchant=merchant, actor=specialist, base_url="http://testserver/", **kwargs
    )


def _tasks(merchant):
    today = merchant.local_today()
    MerchantTask.objects.create(
        merchant=merchant, title="Send the client base", side=ChecklistSide.BUSINESS,
        due_date=today - dt.timedelta(days=2),
    )  # fmt: skip
    MerchantTask.objects.create(
        merchant=merchant, title="Configure the program", side=ChecklistSide.SPECIALIST,
        due_date=today + dt.timedelta(days=3),
    )  # fmt: skip
    done = MerchantTask.objects.create(
        merchant=merchant, title="Kick-off call", side=ChecklistSide.SPECIALIST,
        due_date=today - dt.timedelta(days=10), status=TaskStatus.DONE,
        completed_at=timezone.now() - dt.timedelta(days=5),
    )  # fmt: skip
    MerchantTask.objects.create(
        merchant=merchant, title="Not for us", side=ChecklistSide.BUSINESS,
        status=TaskStatus.SKIPPED,
    )  # fmt: skip
    return done


def test_page_shows_progress_and_point_b_and_logs_each_use(client, merchant, specialist):
    _tasks(merchant)
    buyer = ClientFactory(merchant=merchant, joined_at=timezone.now())
    Purchase.objects.create(
        merchant=merchant, client=buyer, external_id="p1", source="cashier",
        occurred_at=timezone.now(), amount=Decimal("1234.00"), paid_money=Decimal("1234.00"),
    )  # fmt: skip
    created = _link(merchant, specialist)
    url = _path(created.url)
    response = client.get(url, HTTP_USER_AGENT="Owner's phone")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Send the client base" in body and "Configure the program" in body
    progress = response.context["progress"]
    assert [t.title for t in progress.theirs] == ["Send the client base", "Not for us"]
    assert {t.title: t.state for t in progress.ours} == {
        "Configure the program": "on_time",
        "Kick-off call": "done_late",
    }
    assert progress.theirs[0].state == "late"
    # 3 counted tasks (the skipped one is not), 1 done, 1 late; next: the earliest open one.
    assert (progress.total, progress.done, progress.late, progress.percent) == (3, 1, 1, 33)
    assert progress.next_task.title == "Send the client base"
    assert response.context["b"].sales.card_revenue == Decimal("1234.00")
    assert "₽1,234" in body.replace("\xa0", " ")
    assert (
        response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    )
    client.get(url)
    uses = OwnerLinkUse.objects.filter(link=created.link)
    assert uses.count() == 2
    assert uses.filter(user_agent="Owner's phone").count() == 1
    assert (
        OnboardingEvent.objects.filter(
            merchant=merchant, kind=OnboardingEvent.Kind.OWNER_LINK_CREATED
        ).count()
        == 1
    )


def test_expired_link_is_404_and_not_logged(client, merchant, specialist):
    created = _link(merchant, specialist, days=1)
    OwnerLink.objects.filter(pk=created.link.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert client.get(_path(created.url)).status_code == 404
    assert not OwnerLinkUse.objects.exists()


def test_revoked_link_is_404(client, merchant, specialist):
    created = _link(merchant, specialist)
    assert client.get(_path(created.url)).status_code == 200
    assert owner_link_revoke(link=created.link, actor=specialist) is True
    assert owner_link_revoke(link=created.link, actor=specialist) is False
    assert client.get(_path(created.url)).status_code == 404
    assert OnboardingEvent.objects.filter(kind=OnboardingEvent.Kind.OWNER_LINK_REVOKED).count() == 1


def test_tampered_token_is_404(client, merchant, specialist):
    created = _link(merchant, specialist)
    url = _path(created.url)
    raw, sig = url.rstrip("/").rsplit("/", 1)[1].split(".")
    base = reverse("reports:owner_page", args=[merchant.slug, "x"])[: -len("x/")]
    flipped = ("A" if raw[0] != "A" else "B") + raw[1:]
    for token in (f"{flipped}.{sig}", f"{raw}.{sig[:-1]}x", raw, f"{raw}.", "nonsense"):
        assert client.get(f"{base}{token}/").status_code == 404, token
    assert not OwnerLinkUse.objects.exists()


def test_another_merchants_data_never_shown(client, merchant, specialist):
    other = MerchantFactory(name="Other Shop")
    MerchantTask.objects.create(merchant=other, title="Other's secret task")
    mine = _link(merchant, specialist)
    token = _path(mine.url).rstrip("/").rsplit("/", 1)[1]
    # My token under the other merchant's slug opens nothing.
    assert client.get(reverse("reports:owner_page", args=[other.slug, token])).status_code == 404
    body = client.get(_path(mine.url)).content.decode()
    assert "Other Shop" not in body and "Other's secret task" not in body


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_read_only(client, merchant, specialist, method):
    task = MerchantTask.objects.create(merchant=merchant, title="Open task")
    created = _link(merchant, specialist)
    response = getattr(client, method)(_path(created.url), {"status": "done"})
    assert response.status_code == 405
    task.refresh_from_db()
    assert task.status == TaskStatus.TODO
    created.link.refresh_from_db()
    assert created.link.revoked_at is None
    assert not OwnerLinkUse.objects.exists()


def test_create_validates_sends_and_needs_edit_rights(merchant, specialist):
    with pytest.raises(ValidationError):
        _link(merchant, specialist, days=0)
    with pytest.raises(ValidationError):
        _link(merchant, specialist, send=True, recipient="no-email")
    stranger = UserFactory(username="stranger", role="specialist")
    with pytest.raises(PermissionDenied):
        _link(merchant, stranger)
    created = _link(merchant, specialist, send=True, recipient="owner@example.com")
    assert mail.outbox[-1].to == ["owner@example.com"]
    assert created.url in mail.outbox[-1].body
    # Only the hash of the random part is kept.
    raw = created.url.rstrip("/").rsplit("/", 1)[1].split(".")[0]
    assert raw not in created.link.token_hash


def test_hub_creates_and_revokes(client, merchant, specialist):
    client.force_login(specialist)
    url = reverse("admin:onboarding_merchant_owner_links", args=[merchant.pk])
    response = client.post(url, {"days": "7", "recipient": "", "create": "1"})
    assert response.status_code == 302
    link = OwnerLink.objects.get(merchant=merchant)
    assert link.expires_at - link.created_at == dt.timedelta(days=7)
    assert client.get(url).context["created_url"].startswith("http://testserver/dashboard/")
    response = client.post(url, {"days": "0", "create": "1"})
    assert "A link is valid for 1 to 180 days." in response.content.decode()
    assert OwnerLink.objects.count() == 1
    client.post(url, {"revoke": str(link.pk)})
    link.refresh_from_db()
    assert link.revoked_at is not None
    # Another merchant's hub is out of reach.
    other = MerchantFactory()
    other_url = reverse("admin:onboarding_merchant_owner_links", args=[other.pk])
    assert client.post(other_url, {"days": "7", "create": "1"}).status_code == 404
    assert not OwnerLink.objects.filter(merchant=other).exists()


def test_hub_create_redirects_and_shows_the_secret_once(client, merchant, specialist):
    client.force_login(specialist)
    url = reverse("admin:onboarding_merchant_owner_links", args=[merchant.pk])
    response = client.post(url, {"days": "7", "recipient": "", "create": "1"})
    assert (response.status_code, response["Location"]) == (302, url)
    assert OwnerLink.objects.filter(merchant=merchant).count() == 1
    first = client.get(url)
    secret = first.context["created_url"]
    assert secret.startswith(f"http://testserver/dashboard/{merchant.slug}/owner/")
    assert 'id="owner-link-created"' in first.content.decode()
    assert secret in first.content.decode()
    assert "no-store" in first["Cache-Control"]
    again = client.get(url)  # a reload: no re-post, no secret
    assert again.context["created_url"] is None
    assert secret not in again.content.decode()
    assert 'id="owner-link-created"' not in again.content.decode()
    assert OwnerLink.objects.filter(merchant=merchant).count() == 1
    # The secret waits only on its own merchant's page.
    client.post(url, {"days": "7", "recipient": "", "create": "1"})
    other = MerchantFactory()
    other.specialists.add(specialist)
    other_url = reverse("admin:onboarding_merchant_owner_links", args=[other.pk])
    assert client.get(other_url).context["created_url"] is None
    assert client.get(url).context["created_url"] is not None
    assert OwnerLink.objects.filter(merchant=merchant).count() == 2


def test_progress_counts_a_task_whose_fact_holds_as_done(merchant):
    MerchantTask.objects.create(
        merchant=merchant, title="Import", fact="clients_imported", fact_threshold=1
    )
    assert owner_progress(merchant=merchant).done == 0
    ClientFactory(merchant=merchant, imported=True)
    progress = owner_progress(merchant=merchant)
    assert (progress.done, progress.total, progress.next_task) == (1, 1, None)
    # The page wrote nothing: the task is still open in the database.
    assert MerchantTask.objects.get(merchant=merchant).status == TaskStatus.TODO
