"""Joining from the card page: no duplicates, consent history, invitation rules, feedback."""

from decimal import Decimal

import pytest

from cards import services
from cards.errors import CardError
from cards.models import CardCounter, CardProfile, ConsentRecord, FeedbackRequest
from crm.models import Client, Review
from loyalty.channels import api as channels_api
from loyalty.models import LedgerEntry, LedgerKind
from loyalty.selectors import client_find
from tests.factories import ClientFactory, MerchantFactory


def join(merchant, phone="+79130000001", **kwargs):
    kwargs.setdefault("consent", True)
    return services.card_join(merchant=merchant, phone=phone, **kwargs)


def test_imported_contact_becomes_member_without_duplicate(program, merchant):
    contact = ClientFactory(merchant=merchant, phone="+79130000001", full_name="", imported=True)
    outcome = join(merchant, full_name="Анна", channel="qr")
    assert not outcome.created and outcome.joined
    assert Client.objects.filter(merchant=merchant).count() == 1
    contact.refresh_from_db()
    assert contact.full_name == "Анна" and contact.joined_at is not None
    assert contact.balance == Decimal(100)  # welcome points
    assert contact.card_code and len(contact.card_code) == 13
    # A second join changes nothing and gives no second welcome.
    again = join(merchant)
    assert not again.joined
    assert LedgerEntry.objects.filter(client=contact, kind=LedgerKind.WELCOME).count() == 1
    counter = CardCounter.objects.get(event=CardCounter.Event.JOIN)
    assert (counter.channel, counter.count) == ("qr", 1)


def test_card_code_is_found_at_the_till(program, merchant):
    outcome = join(merchant)
    match = client_find(merchant=merchant, query=outcome.client.card_code)
    assert match.client == outcome.client and match.by_phone is False
    other = MerchantFactory()
    assert client_find(merchant=other, query=outcome.client.card_code).client is None


def test_consent_is_recorded_and_withdrawable(program, merchant):
    client = join(merchant, consent=True).client
    record = ConsentRecord.objects.get(client=client)
    assert record.given and "joining" in record.source and record.created_at
    channels_api.consent_set(client=client, given=False, source="card page", ip="10.0.0.1")
    client.refresh_from_db()
    assert client.consent is False
    assert list(ConsentRecord.objects.filter(client=client).values_list("given", flat=True)) == [
        False,
        True,
    ]


def test_join_without_consent_keeps_no_consent(program, merchant):
    client = join(merchant, consent=False).client
    assert client.consent is False
    assert ConsentRecord.objects.get(client=client).given is False


def test_invitation_assigns_referrer(program, merchant):
    inviter = join(merchant, phone="+79130000001").client
    code = CardProfile.objects.get(client=inviter).invite_code
    friend = join(merchant, phone="+79130000002", invite_code=code).client
    assert friend.referred_by == inviter and friend.source == "referral"


def test_invitation_refused_for_cycle(program, merchant):
    a = join(merchant, phone="+79130000001").client
    b = ClientFactory(merchant=merchant, phone="+79130000002", referred_by=a)
    # b invites a (a not a member yet would be needed for a cycle): make a fresh non-member
    # whose descendant invites them.
    a.joined_at = None
    a.save(update_fields=["joined_at"])
    services.card_profile_ensure(client=b)
    code = CardProfile.objects.get(client=b).invite_code
    outcome = join(merchant, phone=a.phone, invite_code=code)
    a.refresh_from_db()
    assert a.referred_by_id is None
    assert any("own referrer" in n for n in outcome.notes)


def test_invitation_from_another_merchant_is_ignored(program, merchant):
    other = MerchantFactory()
    stranger = ClientFactory(merchant=other)
    services.card_profile_ensure(client=stranger)
    code = CardProfile.objects.get(client=stranger).invite_code
    friend = join(merchant, invite_code=code).client
    assert friend.referred_by_id is None and friend.source == "organic"


def test_member_cannot_be_reinvited(program, merchant):
    inviter = join(merchant, phone="+79130000001").client
    member = join(merchant, phone="+79130000002").client
    code = CardProfile.objects.get(client=inviter).invite_code
    outcome = join(merchant, phone=member.phone, invite_code=code)
    member.refresh_from_db()
    assert member.referred_by_id is None and outcome.notes


def test_session_is_scoped_to_one_merchant(program, merchant):
    client = join(merchant).client
    token = services.card_session_start(client=client)
    assert services.card_session_client(merchant=merchant, token=token) == client
    assert services.card_session_client(merchant=MerchantFactory(), token=token) is None
    services.card_session_end(token=token)
    assert services.card_session_client(merchant=merchant, token=token) is None


def test_feedback_every_nth_purchase(program, merchant):
    program.feedback_every_purchases = 10
    program.save()
    client = join(merchant).client
    Client.objects.filter(pk=client.pk).update(purchases_count=9)
    client.refresh_from_db()
    assert services.feedback_due(client=client) is None
    Client.objects.filter(pk=client.pk).update(purchases_count=10)
    client.refresh_from_db()
    request = services.feedback_due(client=client)
    assert request.sequence == 1
    assert services.feedback_due(client=client) == request  # asked once, not twice
    review = services.feedback_answer(request_id=request.pk, client=client, rating=5, text="Ок")
    assert (review.rating, review.platform, review.client) == (5, Review.Platform.APP, client)
    assert services.feedback_due(client=client) is None
    with pytest.raises(CardError):
        services.feedback_answer(request_id=request.pk, client=client, rating=4)
    with pytest.raises(CardError):
        services.feedback_answer(request_id=request.pk, client=client, rating=6)
    Client.objects.filter(pk=client.pk).update(purchases_count=20)
    client.refresh_from_db()
    assert services.feedback_due(client=client).sequence == 2
    assert FeedbackRequest.objects.count() == 2


def test_feedback_triggers_review_reward(program, merchant, django_capture_on_commit_callbacks):
    from tests.factories import CampaignFactory

    CampaignFactory(
        merchant=merchant,
        kind="review_reward",
        reward_form="points",
        reward_points=Decimal(300),
        review_platform="any",
        channel="console",
    )
    program.feedback_every_purchases = 1
    program.save()
    client = join(merchant).client
    Client.objects.filter(pk=client.pk).update(purchases_count=1)
    client.refresh_from_db()
    request = services.feedback_due(client=client)
    with django_capture_on_commit_callbacks(execute=True):
        services.feedback_answer(request_id=request.pk, client=client, rating=4)
    client.refresh_from_db()
    assert client.balance == Decimal(400)  # 100 welcome + 300 review reward
