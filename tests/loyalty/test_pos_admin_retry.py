"""Failed POS events can be retried from the admin by specialists, not by read-only partners."""

from unittest import mock

import pytest
from django.urls import reverse

from loyalty.pos.models import PosEvent
from tests.factories import MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_event():
    merchant = MerchantFactory()
    event = PosEvent.objects.create(
        merchant=merchant,
        system="poster",
        endpoint="/pos/poster/",
        status="failed",
        external_id="tx-1",
        message="Poster API unreachable",
    )
    other = PosEvent.objects.create(
        merchant=MerchantFactory(),
        system="poster",
        endpoint="/pos/poster/",
        status="failed",
        external_id="tx-2",
    )
    return merchant, event, other


def post_action(client, ids):
    return client.post(
        reverse("admin:loyalty_posevent_changelist"),
        {"action": "retry_now", "_selected_action": [str(i) for i in ids]},
    )


def test_specialist_queues_retry_of_own_failed_events_only(client, failed_event):
    merchant, event, other = failed_event
    user = UserFactory(username="spec-pos", role="specialist")
    merchant.specialists.add(user)
    client.force_login(user)
    with mock.patch("loyalty.tasks.retry_pos_event.delay") as delay:
        post_action(client, [event.pk, other.pk])
    assert [c.args for c in delay.call_args_list] == [(event.pk,)]


def test_partner_cannot_retry(client, failed_event):
    merchant, event, _other = failed_event
    user = UserFactory(username="partner-pos", role="partner")
    merchant.partner = user
    merchant.save()
    client.force_login(user)
    page = client.get(reverse("admin:loyalty_posevent_changelist")).content.decode()
    assert "retry_now" not in page
    with mock.patch("loyalty.tasks.retry_pos_event.delay") as delay:
        post_action(client, [event.pk])
    delay.assert_not_called()
