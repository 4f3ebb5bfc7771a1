"""Users' and groups' permission pickers read in the admin's language."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import translation

from onboarding.admin import permission_label

pytestmark = pytest.mark.django_db


def test_a_model_permission_reads_in_russian():
    permission = Permission.objects.get(codename="add_programdraft")
    with translation.override("ru"):
        label = permission_label(permission)
    assert label == "Программа лояльности | черновик программы | добавление"
    with translation.override("en"):
        assert permission_label(permission) == "Loyalty program | program draft | add"


def test_the_group_page_lists_permissions_in_russian(admin_client):
    admin_client.cookies["django_language"] = "ru"
    page = admin_client.get(reverse("admin:auth_group_add"), HTTP_ACCEPT_LANGUAGE="ru")
    html = page.content.decode()
    assert page.status_code == 200
    assert "черновик программы | просмотр" in html
    assert "Can add program draft" not in html
