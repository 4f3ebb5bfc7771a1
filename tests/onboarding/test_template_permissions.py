"""Shared checklist templates: specialists read them, only superusers change them."""

import pytest
from django.urls import reverse

from onboarding.models import ChecklistTemplate
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_specialist_reads_but_cannot_change_templates(client):
    template = ChecklistTemplate.objects.get(is_default=True)
    client.force_login(UserFactory(username="spec-tpl", role="specialist"))
    url = reverse("admin:onboarding_checklisttemplate_change", args=[template.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    client.post(url, {"name": "Rewritten"})
    template.refresh_from_db()
    assert template.name != "Rewritten"
    assert client.get(reverse("admin:onboarding_checklisttemplate_add")).status_code == 403


def test_superuser_changes_templates(client):
    admin_user = UserFactory(username="root-tpl")
    admin_user.is_superuser = admin_user.is_staff = True
    admin_user.save()
    client.force_login(admin_user)
    assert client.get(reverse("admin:onboarding_checklisttemplate_add")).status_code == 200
