"""Content-Security-Policy: every role's pages carry the header, scripts come only from our
own static files (no 'unsafe-inline' for scripts anywhere; only the admin adds 'unsafe-eval'
for its Alpine.js), and neither our templates nor the rendered pages hold inline script."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from onboarding.training import quiz_link_for

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
TEMPLATE_DIRS = [ROOT / "templates", *ROOT.glob("*/templates")]
# An opening <script> tag without a src, an inline event handler, a javascript: URL.
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I)
HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.I)


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def inline_script_in(text: str) -> list[str]:
    found = INLINE_SCRIPT.findall(text) + HANDLER.findall(text)
    return found + [m.group(0) for m in JS_URL.finditer(text)]


def test_our_templates_hold_no_inline_script():
    checked = 0
    for folder in TEMPLATE_DIRS:
        for path in folder.rglob("*.html"):
            checked += 1
            assert inline_script_in(path.read_text()) == [], path.relative_to(ROOT)
    assert checked > 40


def pages(world):
    a = world["a"]
    token = quiz_link_for(staff=a["staff"]).token
    return [
        ("admin", world["spec_a"], reverse("admin:index")),
        ("admin", world["spec_a"], reverse("admin:onboarding_staff_bonus")),
        ("admin", world["spec_a"], reverse("admin:crm_importbatch_change", args=[a["batch"].pk])),
        ("site", world["cashier_a"], reverse("loyalty:cashier", args=["alpha"])),
        ("site", world["owner_a"], reverse("reports:dashboard", args=["alpha"])),
        ("site", world["owner_a"], reverse("reports:case_study", args=["alpha"])),
        ("site", None, reverse("cards:join", args=["alpha"])),
        ("site", None, reverse("onboarding:quiz_home", args=[token])),
        ("site", None, reverse("login")),
    ]


def test_every_role_gets_the_policy_and_no_inline_script(client, world):
    for area, user, url in pages(world):
        client.logout()
        if user is not None:
            client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200, url
        policy = directives(response)
        assert policy["default-src"] == ["'self'"], url
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
        scripts = policy["script-src"]
        assert "'unsafe-inline'" not in scripts, url
        assert ("'unsafe-eval'" in scripts) == (area == "admin"), url
        body = response.content.decode()
        assert inline_script_in(body) == [], url
        if area == "site":
            assert "site/portal.js" in body, url


def test_admin_pages_load_the_behaviours_script(client, world):
    client.force_login(world["spec_a"])
    body = client.get(reverse("admin:onboarding_staff_bonus")).content.decode()
    assert "site/portal.js" in body
    assert "data-autosubmit" in body and "onchange" not in body
