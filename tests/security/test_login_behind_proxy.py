"""Login throttling behind a reverse proxy: every request reaches the portal from the proxy's
address, so failures must count against the real client (X-Forwarded-For, as the trusted proxy
appended it) and the username — ten bad passwords from one client lock that client out of that
account and nobody else."""

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from config.client_ip import client_ip

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"
ATTACKER = "203.0.113.66"
VICTIM = "198.51.100.7"
PASSWORD = "pass-Word-123"  # tests/security/conftest.py


@pytest.fixture
def proxied(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 10
    settings.BEHIND_PROXY = True
    settings.PROXY_COUNT = 1
    from axes.utils import reset

    reset()
    yield
    reset()


def via_proxy(address: str, spoofed: str = "") -> HttpClient:
    """A browser at `address` behind the proxy; `spoofed` is what the client itself put into
    X-Forwarded-For before the proxy appended the real address."""
    forwarded = f"{spoofed}, {address}" if spoofed else address
    return HttpClient(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)


def login(browser: HttpClient, url: str, username: str, password: str) -> int:
    return browser.post(url, {"username": username, "password": password}).status_code


@pytest.mark.parametrize("login_url", ["login", "admin:login"])
def test_ten_failures_lock_that_client_for_that_user_only(world, proxied, login_url):
    url = reverse(login_url)
    attacker = via_proxy(ATTACKER)
    statuses = [login(attacker, url, "spec-a", "wrong") for _attempt in range(10)]
    assert statuses == [200] * 9 + [429]
    # Locked: the attacker cannot go on guessing, not even with the right password.
    assert login(attacker, url, "spec-a", PASSWORD) == 429
    assert "_auth_user_id" not in attacker.session

    # The genuine user at another address behind the same proxy signs in.
    victim = via_proxy(VICTIM)
    assert login(victim, url, "spec-a", PASSWORD) == 302
    assert victim.session["_auth_user_id"] == str(world["spec_a"].pk)
    # Another user signs in from the attacker's address too: the lock is for that username.
    colleague = via_proxy(ATTACKER)
    assert login(colleague, url, "spec-b", PASSWORD) == 302


def test_a_forged_forwarded_for_does_not_escape_the_lock(world, proxied):
    url = reverse("login")
    for attempt in range(10):
        login(via_proxy(ATTACKER, spoofed=f"192.0.2.{attempt}"), url, "spec-a", "wrong")
    # A new made-up address in front of the real one changes nothing: the proxy's entry counts.
    assert login(via_proxy(ATTACKER, spoofed="192.0.2.200"), url, "spec-a", PASSWORD) == 429


def test_without_proxy_the_header_is_ignored(world, settings):
    from django.test import RequestFactory

    settings.BEHIND_PROXY = False
    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(request) == "198.51.100.1"


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (1, "203.0.113.66", "203.0.113.66"),
        (1, "1.1.1.1, 203.0.113.66", "203.0.113.66"),
        (2, "1.1.1.1, 203.0.113.66, 10.0.0.9", "203.0.113.66"),
        (1, "[2001:db8::1]:443", "2001:db8::1"),
        (1, "203.0.113.66:51234", "203.0.113.66"),
        (2, "203.0.113.66", PROXY),  # shorter than the proxy chain: the nearest proxy
        (1, "not-an-address", PROXY),
        (1, "", PROXY),
    ],
)
def test_client_address_behind_proxies(settings, count, forwarded, expected):
    from django.test import RequestFactory

    settings.BEHIND_PROXY = True
    settings.PROXY_COUNT = count
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
