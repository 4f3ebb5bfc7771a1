"""CSRF on every state-changing view (only the POS webhooks, the Telegram webhook and the
signed unsubscribe link are exempt: they authenticate by token, signature or secret header —
a forged cross-site post cannot know them) and login throttling by django-axes on the site and
admin logins."""

import uuid

import pytest
from django.test import Client as HttpClient
from django.urls import URLPattern, URLResolver, get_resolver, reverse

pytestmark = pytest.mark.django_db

# pos_adapter: registered POS adapters (loyalty.pos.adapters), each authenticating by its
# own token or signature, never by a session.
POS_VIEWS = {"evotor_user", "evotor_documents", "evotor_receipts", "poster_webhook", "pos_adapter"}
# Telegram posts with X-Telegram-Bot-Api-Secret-Token; mail clients post RFC 8058 one-click
# unsubscribes to the signed link with no session or form.
CHANNEL_VIEWS = {"telegram_webhook", "unsubscribe"}


def _patterns(resolver, prefix=""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def test_only_token_authenticated_endpoints_are_csrf_exempt():
    exempt = set()
    for route, pattern in _patterns(get_resolver()):
        callback = pattern.callback
        if getattr(callback, "csrf_exempt", False):
            exempt.add(pattern.name or route)
    assert exempt == POS_VIEWS | CHANNEL_VIEWS


@pytest.fixture
def strict(world):
    return HttpClient(enforce_csrf_checks=True)


def test_site_posts_need_csrf_token(strict, world):
    a = world["a"]
    strict.force_login(world["cashier_a"])
    posts = [
        (
            reverse("loyalty:cashier_purchase", args=["alpha"]),
            {
                "client_id": a["client"].pk,
                "request_id": str(uuid.uuid4()),
                "amount": "100",
                "payment_type": "card",
            },
        ),
        (reverse("loyalty:cashier_register", args=["alpha"]), {"phone": "+79135550001"}),
        (
            reverse("loyalty:cashier_refund", args=["alpha", a["purchase"].pk]),
            {"amount": "1", "request_id": str(uuid.uuid4())},
        ),
        (reverse("logout"), {}),
        (reverse("set_language"), {"language": "ru"}),
    ]
    for url, data in posts:
        assert strict.post(url, data).status_code == 403, url


def test_quiz_post_needs_csrf_token(strict, world):
    from onboarding.training import quiz_link_for

    link = quiz_link_for(staff=world["a"]["staff"])
    url = reverse("onboarding:quiz_take", args=[link.token, world["a"]["module"].pk])
    assert strict.post(url, {}).status_code == 403


def test_admin_posts_need_csrf_token(strict, world):
    a = world["a"]
    strict.force_login(world["spec_a"])
    posts = [
        reverse("admin:crm_client_change", args=[a["client"].pk]),
        reverse("admin:onboarding_staff_bonus"),
        reverse("admin:loyalty_campaign_segment_gift"),
        reverse("admin:crm_importbatch_confirm", args=[a["batch"].pk]),
        reverse("admin:loyalty_ledgerentry_adjust", args=[a["client"].pk]),
        reverse("admin:crm_client_import"),
        reverse("admin:crm_client_process_import"),
        reverse("admin:onboarding_merchanttask_changelist"),
    ]
    for url in posts:
        assert strict.post(url, {"points": "5", "reason": "x"}).status_code == 403, url


def test_login_forms_need_csrf_token(strict, world):
    for url in (reverse("login"), reverse("admin:login")):
        response = strict.post(url, {"username": "spec-a", "password": "pass-Word-123"})
        assert response.status_code == 403, url


@pytest.fixture
def axes_on(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    from axes.utils import reset

    reset()
    yield
    reset()


@pytest.mark.parametrize("login_url", ["login", "admin:login"])
def test_login_is_throttled(client, world, axes_on, login_url):
    url = reverse(login_url)
    for _attempt in range(3):
        response = client.post(url, {"username": "spec-a", "password": "wrong"})
    # Locked: even the right password is refused now, and no session is opened.
    response = client.post(url, {"username": "spec-a", "password": "pass-Word-123"})
    assert response.status_code in (403, 429)
    assert "_auth_user_id" not in client.session
    # The lock is per (address, username): another user at the same address still signs in,
    # so nobody can lock everyone out (tests/security/test_login_behind_proxy.py).
    response = client.post(url, {"username": "spec-b", "password": "pass-Word-123"})
    assert response.status_code == 302


def test_correct_login_works_with_axes_on(client, world, axes_on):
    response = client.post(reverse("login"), {"username": "spec-a", "password": "pass-Word-123"})
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(world["spec_a"].pk)
