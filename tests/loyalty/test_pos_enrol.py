"""A new phone at the till: the buyer enrolled in one write (`members.client_enrol`) — the
client row already joined, at the entry tier, holding the welcome points, and the welcome
ledger entry — the same member `client_register` and `client_join` make, in 11 statements for
the whole sale on PostgreSQL (was 19: the program's switch, the phone's look-up, the insert,
the lock, the tiers, the welcome look-up, the entry, the figures and the re-read each their
own)."""

from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.models import Client, ClientSource
from loyalty.models import CampaignIssuance, LedgerEntry, LedgerKind, Program, Purchase
from loyalty.pos import receipt as pos_receipt
from loyalty.services.locking import rules_cached
from loyalty.services.members import client_enrol, client_register
from tests.factories import ClientFactory
from tests.loyalty.test_campaign_edges import welcome
from tests.loyalty.test_pos import put_documents, sell_document
from tests.loyalty.test_pos import rustore as rustore  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

# Token, context, BEGIN, the enrolment's write, COMMIT, the welcome campaign's two reads
# (after the commit), BEGIN, the engine's lock, the sale's write, COMMIT.
BUDGET_POSTGRESQL = 11
BUDGET_PORTABLE = 12  # without BEGIN/COMMIT and savepoints: the writes are one per table


def _figures(client: Client) -> dict:
    skip = {"id", "phone", "created_at", "updated_at", "last_activity_at"}
    return {
        f.attname: getattr(client, f.attname)
        for f in Client._meta.concrete_fields
        if f.attname not in skip
    }


def test_an_enrolling_sale_writes_the_member_in_one_statement(
    client,
    rustore,
    django_capture_on_commit_callbacks,  # noqa: F811
):
    ClientFactory(merchant=rustore, phone="+79181234567")
    put_documents(client, sell_document(doc_id="warm-up"))  # the program enters the cache
    with (
        django_capture_on_commit_callbacks(execute=True),
        CaptureQueriesContext(connection) as ctx,
    ):
        answer = put_documents(client, sell_document(doc_id="new", phone="+7 918 765-43-21"))
    assert answer.json()["status"] == "accepted"
    buyer = Client.objects.get(merchant=rustore, phone="+79187654321")
    assert (buyer.source, buyer.joined_at is not None) == (ClientSource.POS, True)
    assert Purchase.objects.get(external_id__endswith=":new").client == buyer
    welcome = LedgerEntry.objects.get(client=buyer, kind=LedgerKind.WELCOME)
    assert welcome.points == D(500) and welcome.created_at == buyer.joined_at
    assert buyer.balance == sum(
        LedgerEntry.objects.filter(client=buyer).values_list("points", flat=True)
    )
    sql = [q["sql"] for q in ctx.captured_queries]
    if connection.vendor == "postgresql":
        assert len(sql) <= BUDGET_POSTGRESQL, "\n".join(sql)
    else:
        own = [s for s in sql if not s.startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))]
        assert len(own) <= BUDGET_PORTABLE, "\n".join(sql)


def test_the_enrolled_member_is_the_one_the_joining_service_makes(rustore):  # noqa: F811
    at = rustore.created_at
    rules = rules_cached(rustore, "never-current")  # loaded afresh
    fast = client_enrol(
        merchant=rustore, phone="+79180000001", source=ClientSource.POS, joined_at=at, rules=rules
    )
    slow = client_register(
        merchant=rustore, phone="+79180000002", source=ClientSource.POS, joined_at=at
    ).client
    fast, slow = Client.objects.get(pk=fast.pk), Client.objects.get(pk=slow.pk)
    assert fast.tier_id is not None and fast.balance == D(500)
    assert _figures(fast) == _figures(slow)
    entries = [
        list(LedgerEntry.objects.filter(client=c).values_list("kind", "points", "created_at"))
        for c in (fast, slow)
    ]
    assert entries[0] == entries[1] == [(LedgerKind.WELCOME, D(500), at)]


def test_both_joinings_take_their_values_from_one_rule(rustore, monkeypatch):  # noqa: F811
    """The entry tier and the welcome points live in `members.joined_values`: a change of that
    one rule reaches the till's one-write enrolment and the joining service alike."""
    from loyalty.services import members  # the module whose helper the test replaces

    top = rustore.program.tiers.order_by("position").last()
    monkeypatch.setattr(
        members,
        "joined_values",
        lambda **kw: members.JoinedValues(tier_id=top.pk, welcome_points=D(7)),
    )
    at = rustore.created_at
    fast = client_enrol(
        merchant=rustore,
        phone="+79180000011",
        source=ClientSource.POS,
        joined_at=at,
        rules=rules_cached(rustore, "never-current"),
    )
    slow = client_register(
        merchant=rustore, phone="+79180000012", source=ClientSource.POS, joined_at=at
    ).client
    for member in (fast, slow):
        member = Client.objects.get(pk=member.pk)
        assert (member.tier_id, member.balance) == (top.pk, D(7))
        assert LedgerEntry.objects.get(client=member, kind=LedgerKind.WELCOME).points == D(7)


def test_a_phone_taken_meanwhile_writes_nothing_and_that_client_is_joined(rustore):  # noqa: F811
    taken = ClientFactory(merchant=rustore, phone="+79180000003", joined_at=None)
    rules = rules_cached(rustore, "never-current")
    before = LedgerEntry.objects.count()
    assert (
        client_enrol(
            merchant=rustore,
            phone=taken.phone,
            source=ClientSource.POS,
            joined_at=rustore.created_at,
            rules=rules,
        )
        is None
    )
    assert LedgerEntry.objects.count() == before
    assert Client.objects.filter(phone=taken.phone).count() == 1
    # The till's enrolment then joins the client it lost the race to.
    ctx = pos_receipt._Context(
        branch=None, cashier=None, client=None, by_phone=False, phone=taken.phone, pending=False
    )
    joined = pos_receipt._enrol(rustore, ctx, rustore.created_at)
    assert joined.pk == taken.pk and joined.joined_at is not None
    assert LedgerEntry.objects.get(client=taken, kind=LedgerKind.WELCOME).points == D(500)


def test_enrolment_follows_the_program_as_it_is_now(client, rustore):  # noqa: F811
    put_documents(client, sell_document(doc_id="one", phone="+7 918 000-00-04"))
    assert Client.objects.filter(phone="+79180000004").exists()
    # Switched off from elsewhere (no signal): the next sale's fingerprint shows it.
    Program.objects.filter(merchant=rustore).update(pos_enrols_buyers=False, welcome_points=0)
    put_documents(client, sell_document(doc_id="two", phone="+7 918 000-00-05"))
    assert not Client.objects.filter(phone="+79180000005").exists()
    Program.objects.filter(merchant=rustore).update(pos_enrols_buyers=True)
    put_documents(client, sell_document(doc_id="three", phone="+7 918 000-00-06"))
    buyer = Client.objects.get(phone="+79180000006")
    assert not LedgerEntry.objects.filter(client=buyer, kind=LedgerKind.WELCOME).exists()


def test_a_welcome_campaign_greets_a_member_enrolled_at_the_till(
    client,
    rustore,
    django_capture_on_commit_callbacks,  # noqa: F811
):
    campaign = welcome(rustore, reward_points=D(300))
    with django_capture_on_commit_callbacks(execute=True):
        put_documents(client, sell_document(doc_id="greeted", phone="+7 918 000-00-07"))
    buyer = Client.objects.get(phone="+79180000007")
    assert CampaignIssuance.objects.get(campaign=campaign).client_id == buyer.pk
