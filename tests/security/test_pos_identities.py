"""POS identities name one merchant: a specialist who copies another merchant's Evotor user
id, Evotor store or Poster account into their own merchant gets a form error that does not
name the other merchant, the database refuses duplicates, the feeds stay with their owner,
and every change is in the merchant's onboarding log."""

import json

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from loyalty.pos import poster
from onboarding.models import Branch, Merchant, OnboardingEvent
from tests.factories import BranchFactory, MerchantFactory
from tests.onboarding.test_checklists import merchant_form_data

pytestmark = pytest.mark.django_db

USER_A = "01-000000000000001"
STORE_A = "20240713-774a-4b1c-80a1-9d2b8c7e6f50"
APP_TOKEN = "app-token"


@pytest.fixture
def connected(world, settings):
    """Alpha is connected to Evotor (user and store) and to Poster; Bravo to nothing."""
    settings.EVOTOR_APP_TOKEN = APP_TOKEN
    alpha = world["a"]["merchant"]
    alpha.evotor_user_id = USER_A
    alpha.poster_account = "alpha-cafe"
    alpha.poster_client_secret = "secret"
    alpha.save()
    Branch.objects.filter(pk=world["a"]["branch"].pk).update(pos_store_id=STORE_A)
    return world


def _post_merchant(client, merchant, **overrides):
    url = reverse("admin:onboarding_merchant_change", args=[merchant.pk])
    return client.post(url, merchant_form_data(merchant, **overrides))


def _verify(client, user_id=USER_A):
    return client.post(
        "/pos/evotor/user/verify",
        json.dumps({"userUuid": user_id}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {APP_TOKEN}"},
    )


def test_copied_evotor_user_id_is_refused_and_the_token_stays_with_its_merchant(client, connected):
    bravo = connected["b"]["merchant"]
    client.force_login(connected["spec_b"])
    response = _post_merchant(client, bravo, evotor_user_id=f" {USER_A} ")
    assert response.status_code == 200
    body = response.content.decode()
    assert "This Evotor user id is already connected to another merchant." in body
    assert "Alpha" not in body  # the other merchant is not revealed
    bravo.refresh_from_db()
    assert bravo.evotor_user_id == ""
    answer = _verify(client)
    assert answer.status_code == 200
    alpha = Merchant.objects.get(pk=connected["a"]["merchant"].pk)
    assert alpha.evotor_token_hash and not Merchant.objects.get(pk=bravo.pk).evotor_token_hash


def test_copied_poster_account_is_refused_and_alphas_hooks_still_verify(client, connected):
    bravo = connected["b"]["merchant"]
    client.force_login(connected["spec_b"])
    response = _post_merchant(client, bravo, poster_account="alpha-cafe")
    body = response.content.decode()
    assert response.status_code == 200
    assert "This Poster account is already connected to another merchant." in body
    assert "Alpha" not in body
    payload = {"account": "alpha-cafe", "object": "transaction", "object_id": "1",
               "action": "changed", "time": "1"}  # fmt: skip
    payload["verify"] = poster.signature(payload, "secret")
    assert poster.verify(payload) == connected["a"]["merchant"]


def test_copied_evotor_store_is_refused_on_the_branch_forms(client, connected):
    bravo = connected["b"]["merchant"]
    client.force_login(connected["spec_b"])
    rows = {
        "branches-TOTAL_FORMS": "1",
        "branches-0-name": "Copied store",
        "branches-0-pos_store_id": STORE_A.upper(),  # any case is the same store
        "branches-0-is_active": "on",
        "branches-0-merchant": bravo.pk,
    }
    response = _post_merchant(client, bravo, **rows)
    body = response.content.decode()
    assert response.status_code == 200
    assert "This Evotor store is already connected to a branch of another merchant." in body
    assert "Alpha" not in body
    assert not Branch.objects.filter(name="Copied store").exists()
    # The branch page says the same.
    url = reverse("admin:onboarding_branch_add")
    response = client.post(
        url,
        {"merchant": bravo.pk, "name": "Copied again", "pos_store_id": STORE_A, "is_active": "on"},
    )
    assert response.status_code == 200
    assert "already connected to a branch of another merchant" in response.content.decode()
    assert not Branch.objects.filter(name="Copied again").exists()


def test_poster_spot_ids_repeat_across_merchants_but_not_within_one(client, connected):
    """Poster's spot ids are small numbers per account: "1" is everyone's first spot."""
    bravo = connected["b"]["merchant"]
    Branch.objects.filter(pk=connected["a"]["branch"].pk).update(pos_store_id="1")
    client.force_login(connected["spec_b"])
    rows = {
        "branches-TOTAL_FORMS": "2",
        "branches-0-name": "Spot one",
        "branches-0-pos_store_id": "1",
        "branches-0-is_active": "on",
        "branches-0-merchant": bravo.pk,
        "branches-1-name": "Spot one again",
        "branches-1-pos_store_id": "1",
        "branches-1-is_active": "on",
        "branches-1-merchant": bravo.pk,
    }
    response = _post_merchant(client, bravo, **rows)
    assert response.status_code == 200
    assert "Another branch of this merchant already has this store id." in (
        response.content.decode()
    )
    del rows["branches-1-name"], rows["branches-1-pos_store_id"], rows["branches-1-is_active"]
    rows["branches-TOTAL_FORMS"] = "1"
    del rows["branches-1-merchant"]
    response = _post_merchant(client, bravo, **rows)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Branch.objects.get(merchant=bravo, name="Spot one").pos_store_id == "1"


@pytest.mark.parametrize(
    "field, value",
    [("evotor_user_id", USER_A), ("poster_account", "alpha-cafe"), ("evotor_token_hash", "h")],
)
def test_the_database_refuses_a_second_merchant_with_the_same_identity(field, value):
    MerchantFactory(**{field: value})
    MerchantFactory(evotor_user_id="", poster_account="")  # blank values repeat freely
    MerchantFactory(evotor_user_id="", poster_account="")
    with pytest.raises(IntegrityError), transaction.atomic():
        MerchantFactory(**{field: value})


def test_the_database_refuses_an_evotor_store_on_two_merchants_in_any_case():
    BranchFactory(pos_store_id=STORE_A)
    BranchFactory(pos_store_id="1")
    BranchFactory(pos_store_id="1")  # Poster spots of two merchants
    with pytest.raises(IntegrityError), transaction.atomic():
        BranchFactory(pos_store_id=STORE_A.upper())


def test_identity_changes_are_logged_with_who_and_what(client, connected):
    alpha = connected["a"]["merchant"]
    client.force_login(connected["spec_a"])
    branch = connected["a"]["branch"]
    rows = {
        "branches-TOTAL_FORMS": "1",
        "branches-INITIAL_FORMS": "1",
        "branches-0-id": branch.pk,
        "branches-0-merchant": alpha.pk,
        "branches-0-name": branch.name,
        "branches-0-pos_store_id": "20240713-0000-4b1c-80a1-000000000002",
        "branches-0-is_active": "on",
    }
    response = _post_merchant(
        client, alpha, evotor_user_id="01-000000000000009", poster_account="alpha-cafe", **rows
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    events = OnboardingEvent.objects.filter(
        merchant=alpha, kind=OnboardingEvent.Kind.POS_IDENTITY_CHANGED
    )
    changes = {}
    for event in events:
        assert event.actor == connected["spec_a"]
        changes.update(event.details["changes"])
    assert changes == {
        "evotor_user_id": [USER_A, "01-000000000000009"],
        "pos_store_id": [STORE_A, "20240713-0000-4b1c-80a1-000000000002"],
    }  # the Poster account did not change: not logged


@pytest.mark.django_db(transaction=True)
def test_migration_clears_identities_shared_before_the_constraints():
    """Rows shared before the constraints existed: cleared on every merchant sharing them,
    each clearing logged; one merchant's repeated store stays on its oldest branch."""
    executor = MigrationExecutor(connection)
    before, after = (
        [("onboarding", "0011_point_a_figures")],
        [("onboarding", "0012_pos_identities_unique")],
    )
    executor.migrate(before)
    try:
        rows = []
        old = executor.loader.project_state(before).apps
        OldMerchant = old.get_model("onboarding", "Merchant")
        OldBranch = old.get_model("onboarding", "Branch")
        for n, (user, account) in enumerate([(USER_A, "cafe"), (USER_A, "cafe"), ("u3", "bar")]):
            rows.append(
                OldMerchant.objects.create(
                    name=f"M{n}", slug=f"m{n}", country="RU", currency="RUB",
                    time_zone="Europe/Moscow", evotor_user_id=user, poster_account=account,
                    evotor_token_hash=f"t{n}",
                )
            )  # fmt: skip
        OldBranch.objects.create(merchant_id=rows[0].pk, name="a", pos_store_id=STORE_A)
        OldBranch.objects.create(merchant_id=rows[1].pk, name="b", pos_store_id=STORE_A.upper())
        OldBranch.objects.create(merchant_id=rows[2].pk, name="c1", pos_store_id="7")
        OldBranch.objects.create(merchant_id=rows[2].pk, name="c2", pos_store_id="7")
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        m0, m1, m2 = (Merchant.objects.get(pk=r.pk) for r in rows)
        assert (m0.evotor_user_id, m0.poster_account, m0.evotor_token_hash) == ("", "", "")
        assert (m1.evotor_user_id, m1.poster_account) == ("", "")
        assert (m2.evotor_user_id, m2.poster_account, m2.evotor_token_hash) == ("u3", "bar", "t2")
        stores = dict(
            Branch.objects.filter(merchant_id__in=[r.pk for r in rows]).values_list(
                "name", "pos_store_id"
            )
        )
        assert stores == {"a": "", "b": "", "c1": "7", "c2": ""}
        logged = OnboardingEvent.objects.filter(kind="pos_identity")
        assert sorted(e.merchant_id for e in logged) == sorted(
            [m0.pk, m0.pk, m0.pk, m1.pk, m1.pk, m1.pk, m2.pk]
        )
    finally:
        MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())


EMPLOYEE = "20240713-EEEE-4000-8000-00000000000a"


def test_pos_employee_id_names_one_cashier_of_a_merchant(world):
    from loyalty.pos.common import cashier_for_employee
    from onboarding.models import StaffMember
    from tests.factories import StaffMemberFactory

    alpha, bravo = world["a"]["merchant"], world["b"]["merchant"]
    anna = StaffMemberFactory(merchant=alpha, full_name="Anna", pos_employee_id=EMPLOYEE)
    assert cashier_for_employee(alpha, EMPLOYEE.lower()) == anna  # any case
    assert cashier_for_employee(bravo, EMPLOYEE) is None  # another merchant's cashier
    assert cashier_for_employee(alpha, "") is None
    # Blanks repeat; another merchant may use the same id; one merchant may not, in any case.
    StaffMemberFactory(merchant=alpha, pos_employee_id="")
    StaffMemberFactory(merchant=alpha, pos_employee_id="")
    StaffMemberFactory(merchant=bravo, pos_employee_id=EMPLOYEE)
    with pytest.raises(IntegrityError), transaction.atomic():
        StaffMember.objects.create(
            merchant=alpha, full_name="Boris", pos_employee_id=EMPLOYEE.upper()
        )
    assert cashier_for_employee(alpha, EMPLOYEE) == anna


def test_repeated_pos_employee_id_is_refused_on_the_staff_forms(client, world):
    from onboarding.models import StaffMember
    from tests.factories import StaffMemberFactory

    alpha = world["a"]["merchant"]
    StaffMemberFactory(merchant=alpha, full_name="Anna", pos_employee_id=EMPLOYEE)
    client.force_login(world["spec_a"])
    taken = "Another staff member of this merchant already has this POS employee id"

    def row(n, name, employee):
        return {
            f"staff-{n}-full_name": name,
            f"staff-{n}-role": "cashier",
            f"staff-{n}-pos_employee_id": employee,
            f"staff-{n}-is_active": "on",
            f"staff-{n}-merchant": alpha.pk,
        }

    # A new row copying Anna's id (another case), on the merchant page.
    response = _post_merchant(
        client, alpha, **{"staff-TOTAL_FORMS": "1"}, **row(0, "Boris", EMPLOYEE.lower())
    )
    assert response.status_code == 200 and taken in response.content.decode()
    # Two new rows naming one employee between them.
    response = _post_merchant(
        client,
        alpha,
        **{"staff-TOTAL_FORMS": "2"},
        **row(0, "Vera", "w-7"),
        **row(1, "Gleb", "W-7"),
    )
    assert response.status_code == 200 and taken in response.content.decode()
    # The staff member's own page says the same.
    response = client.post(
        reverse("admin:onboarding_staffmember_add"),
        {"merchant": alpha.pk, "full_name": "Dina", "role": "cashier",
         "pos_employee_id": f" {EMPLOYEE} ", "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 200 and taken in response.content.decode()
    assert not StaffMember.objects.filter(full_name__in=["Boris", "Vera", "Gleb", "Dina"]).exists()
    # Blanks repeat freely.
    response = _post_merchant(
        client, alpha, **{"staff-TOTAL_FORMS": "2"}, **row(0, "Vera", ""), **row(1, "Gleb", "")
    )
    assert response.status_code == 302
    assert StaffMember.objects.filter(merchant=alpha, full_name__in=["Vera", "Gleb"]).count() == 2


@pytest.mark.django_db(transaction=True)
def test_migration_clears_repeated_employee_ids_and_logs_it():
    """A merchant's repeated employee id stays on its active (else oldest) staff member and is
    cleared, and logged, on the others; other merchants and blanks are untouched."""
    executor = MigrationExecutor(connection)
    before, after = (
        [("onboarding", "0012_pos_identities_unique")],
        [("onboarding", "0013_staff_pos_employee_id_unique")],
    )
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        OldMerchant = old.get_model("onboarding", "Merchant")
        OldStaff = old.get_model("onboarding", "StaffMember")
        m1, m2 = (
            OldMerchant.objects.create(
                name=f"M{n}", slug=f"m{n}", country="RU", currency="RUB",
                time_zone="Europe/Moscow",
            )
            for n in (1, 2)
        )  # fmt: skip
        for merchant, name, employee, active in [
            (m1, "left", "e-1", False),  # the oldest, but no longer working
            (m1, "anna", "E-1", True),  # keeps it: active
            (m1, "boris", "e-1", True),  # cleared: a newer active one
            (m1, "vera", "", True),
            (m1, "gleb", "", True),
            (m2, "dina", "e-1", True),  # another merchant: untouched
        ]:
            OldStaff.objects.create(
                merchant_id=merchant.pk, full_name=name, pos_employee_id=employee, is_active=active
            )
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        from onboarding.models import StaffMember

        ids = dict(
            StaffMember.objects.filter(merchant_id__in=[m1.pk, m2.pk]).values_list(
                "full_name", "pos_employee_id"
            )
        )
        assert ids == {
            "left": "",
            "anna": "E-1",
            "boris": "",
            "vera": "",
            "gleb": "",
            "dina": "e-1",
        }
        logged = OnboardingEvent.objects.filter(kind="pos_identity").order_by("pk")
        assert [(e.merchant_id, e.details) for e in logged] == [
            (m1.pk, {"changes": {"pos_employee_id": ["e-1", ""]}, "staff": "boris"}),
            (m1.pk, {"changes": {"pos_employee_id": ["e-1", ""]}, "staff": "left"}),
        ]
    finally:
        MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
