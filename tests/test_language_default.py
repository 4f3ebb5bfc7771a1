"""The portal opens in Russian whatever the browser asks for; English is the user's choice."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_browser_asking_for_english_still_gets_russian(client, settings):
    settings.LANGUAGE_CODE = "ru"
    body = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert 'lang="ru"' in body


def test_language_switch_gives_english(client, settings):
    settings.LANGUAGE_CODE = "ru"
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    body = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert 'lang="en"' in body
