"""The specialist's journey: facts that tick checklist tasks, the merchant hub, People &
logins and their tenancy boundaries, the time-zone choice, standard training modules."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.models import Segment
from demo import reference
from loyalty.program import TierSpec, program_configure
from onboarding.checklists import merchant_set_status, template_apply
from onboarding.facts import facts_for, facts_sync, time_to_value
from onboarding.models import (
    ChecklistFact,
    ChecklistTemplate,
    MerchantTask,
    OnboardingEvent,
    OnboardingStatus,
    StaffMember,
    TaskStatus,
    TrainingModule,
)
from onboarding.training import attestation_submit, modules_install_standard
from tests.factories import BranchFactory, ClientFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def template():
    return ChecklistTemplate.objects.get(is_default=True)


@pytest.fixture
def specialist(merchant):
    user = UserFactory(username="spec", role="specialist")
    merchant.specialists.add(user)
    return user


def _task(merchant, fact):
    return MerchantTask.objects.get(merchant=merchant, fact=fact)


def _pass_all(staff, merchant):
    for module in TrainingModule.objects.filter(merchant=merchant):
        answers = {
            q.pk: {a.pk for a in q.answers.all() if a.is_correct}
            for q in module.questions.prefetch_related("answers")
        }
        attestation_submit(staff=staff, module=module, answers=answers)


def test_seed_template_names_the_facts_of_reference(template):
    named = {i.title: (i.fact, i.fact_threshold) for i in template.items.exclude(fact="")}
    assert named == reference.STANDARD_CHECKLIST_FACTS
    assert set(f for f, _n in named.values()) <= set(ChecklistFact.values)


def test_facts_tick_tasks_import_program_training(merchant, template):
    template_apply(merchant=merchant, template=template)
    assert facts_sync(merchants=[merchant]) == 0
    ClientFactory(merchant=merchant, imported=True)
    program_configure(
        merchant=merchant, tiers=[TierSpec("Base", Decimal(3), Decimal(10), Decimal(0))]
    )
    assert facts_sync(merchants=[merchant]) == 2
    assert _task(merchant, "clients_imported").status == TaskStatus.DONE
    assert _task(merchant, "program_configured").completed_by is None
    assert _task(merchant, "staff_attested").status == TaskStatus.TODO
    # A passed quiz ticks the training task (80 % of the staff: 1 of 1).
    modules_install_standard(merchant=merchant)
    cashier = StaffMember.objects.create(merchant=merchant, full_name="Анна")
    _pass_all(cashier, merchant)
    StaffMember.objects.create(merchant=merchant, full_name="Борис")
    facts_sync(merchants=[merchant])
    assert _task(merchant, "staff_attested").status == TaskStatus.TODO  # 50 % < 80 %
    StaffMember.objects.filter(full_name="Борис").update(is_active=False)
    facts_sync(merchants=[merchant])
    assert _task(merchant, "staff_attested").status == TaskStatus.DONE
    event = OnboardingEvent.objects.filter(kind=OnboardingEvent.Kind.FACT_VERIFIED).first()
    assert event is not None and event.details["tasks"]


def test_facts_are_read_in_a_fixed_number_of_queries(template):
    one = [MerchantFactory()]
    many = [MerchantFactory() for _i in range(4)]
    for m in many:
        BranchFactory(merchant=m)
        ClientFactory(merchant=m, imported=True)
    with CaptureQueriesContext(connection) as small:
        facts_for(merchants=one)
    with CaptureQueriesContext(connection) as big:
        facts = facts_for(merchants=many)
    assert len(small) == len(big)
    assert all(facts[m.pk].imported_clients == 1 and facts[m.pk].branches == 1 for m in many)


def test_marking_a_fact_task_done_needs_a_logged_reason(client, merchant, template, specialist):
    template_apply(merchant=merchant, template=template)
    task = _task(merchant, "program_configured")
    client.force_login(specialist)
    url = reverse("admin:onboarding_merchanttask_change", args=[task.pk])
    data = {
        "merchant": merchant.pk,
        "side": task.side,
        "title": task.title,
        "required": "on",
        "status": "done",
        "due_date": task.due_date.isoformat(),
        "fact": task.fact,
        "fact_threshold": "",
        "position": task.position,
    }
    page = client.post(url, data)
    assert page.status_code == 200
    assert "does not hold yet (tiers: 0)" in page.content.decode()
    task.refresh_from_db()
    assert task.status == TaskStatus.TODO
    page = client.post(url, {**data, "fact_override_reason": "Tiers live in the old CRM"})
    assert page.status_code == 302
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE and task.completed_by == specialist
    event = OnboardingEvent.objects.get(kind=OnboardingEvent.Kind.FACT_OVERRIDE)
    assert event.actor == specialist and event.reason == "Tiers live in the old CRM"


def test_launch_gate_uses_facts(merchant, template):
    template_apply(merchant=merchant, template=template)
    for task in MerchantTask.objects.filter(merchant=merchant, required=True, fact=""):
        task.status = TaskStatus.DONE
        task.save()
    ClientFactory(merchant=merchant, imported=True)
    program_configure(
        merchant=merchant, tiers=[TierSpec("Base", Decimal(3), Decimal(10), Decimal(0))]
    )
    modules_install_standard(merchant=merchant)
    _pass_all(StaffMember.objects.create(merchant=merchant, full_name="Анна"), merchant)
    merchant_set_status(merchant=merchant, status=OnboardingStatus.LAUNCHED)
    merchant.refresh_from_db()
    assert merchant.onboarding_status == OnboardingStatus.LAUNCHED
    assert not OnboardingEvent.objects.filter(kind=OnboardingEvent.Kind.LAUNCH_OVERRIDE).exists()


def test_time_to_value_counts_days_to_first_and_100th_card_purchase(merchant, template):
    from loyalty.models import Purchase

    start = merchant.local_today() - dt.timedelta(days=40)
    template_apply(merchant=merchant, template=template, start=start)
    merchant.refresh_from_db()
    assert merchant.onboarding_started_on == start
    buyer = ClientFactory(merchant=merchant)
    noon = timezone.make_aware(dt.datetime.combine(start, dt.time(12)), merchant.tzinfo)
    Purchase.objects.bulk_create(
        Purchase(
            merchant=merchant,
            client=buyer,
            source="cashier",
            occurred_at=noon + dt.timedelta(days=5 + i // 10),
            amount=100,
            paid_money=100,
        )
        for i in range(100)
    )
    ttv = time_to_value(merchant=merchant, facts=facts_for(merchants=[merchant])[merchant.pk])
    assert (ttv.first_purchase_days, ttv.hundredth_purchase_days) == (5, 14)


def test_bad_time_zone_is_a_form_error_not_500(client, merchant, template, specialist):
    from tests.onboarding.test_checklists import merchant_form_data

    template_apply(merchant=merchant, template=template)
    client.force_login(specialist)
    url = reverse("admin:onboarding_merchant_change", args=[merchant.pk])
    page = client.post(url, merchant_form_data(merchant, time_zone="Asia/Tomks"))
    assert page.status_code == 200
    assert "Unknown time zone “Asia/Tomks”" in page.content.decode()
    merchant.refresh_from_db()
    assert merchant.time_zone == "Europe/Moscow"
    # A zone stored by other means does not break the pages that read it.
    type(merchant).objects.filter(pk=merchant.pk).update(time_zone="Asia/Tomks")
    assert client.get(url).status_code == 200
    assert client.get(reverse("admin:onboarding_merchanttask_changelist")).status_code == 200


def test_hub_shows_steps_with_next_action(client, merchant, specialist):
    client.force_login(specialist)
    page = client.get(reverse("admin:onboarding_merchant_change", args=[merchant.pk]))
    html = page.content.decode()
    steps = page.context["journey"]
    assert [s.key for s in steps] == [
        "profile", "people", "clients", "program", "campaigns", "till", "training",
        "checklist", "launch", "results",
    ]  # fmt: skip
    assert steps[0].state == "next" and all(s.state == "todo" for s in steps[1:])
    assert reverse("admin:crm_client_import") + f"?merchant={merchant.pk}" in html
    assert reverse("admin:onboarding_merchant_people", args=[merchant.pk]) in html
    # The import opened from the hub has the merchant chosen.
    page = client.get(reverse("admin:crm_client_import"), {"merchant": merchant.pk})
    assert page.context["form"]["merchant"].value() == merchant.pk


def test_hub_apply_checklist_is_not_a_nested_form(client, merchant, specialist):
    """The hub is rendered inside the merchant's change form: the "Apply the checklist"
    action must post to its own URL, never submit the merchant form."""
    client.force_login(specialist)
    html = client.get(reverse("admin:onboarding_merchant_change", args=[merchant.pk])).content
    html = html.decode()
    apply_url = reverse("admin:onboarding_merchant_apply_checklist", args=[merchant.pk])
    assert f'formaction="{apply_url}"' in html
    journey = html[html.index('id="journey"') : html.index("</ol>", html.index('id="journey"'))]
    assert "<form" not in journey


def test_matrix_creates_missing_quiz_links(client, merchant, specialist):
    from onboarding.models import QuizLink, StaffMember
    from onboarding.training import modules_install_standard

    modules_install_standard(merchant=merchant)
    staff = StaffMember.objects.create(merchant=merchant, full_name="Анна")
    client.force_login(specialist)
    url = reverse("admin:onboarding_training_matrix")
    page = client.get(url, {"merchant": merchant.pk})
    assert 'id="create-links"' in page.content.decode()
    client.post(url, {"merchant": merchant.pk, "create_links": "1"})
    assert QuizLink.objects.filter(staff=staff).count() == 1
    page = client.get(url, {"merchant": merchant.pk})
    assert 'id="create-links"' not in page.content.decode()
    assert QuizLink.objects.get(staff=staff).token in page.content.decode()


def test_invite_owner_by_email_then_set_password(client, merchant, specialist):
    client.force_login(specialist)
    url = reverse("admin:onboarding_merchant_people", args=[merchant.pk])
    page = client.post(
        url,
        {"role": "owner", "full_name": "Ирина Петрова", "email": "Irina@zerno.ru",
         "delivery": "email"},
    )  # fmt: skip
    assert page.status_code == 302
    owner = User.objects.get(username="irina@zerno.ru")
    assert not owner.has_usable_password() and owner.groups.filter(name="owner").exists()
    assert list(merchant.owners.all()) == [owner]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["irina@zerno.ru"]
    link = next(w for w in mail.outbox[0].body.split() if "/accounts/set-password/" in w)
    client.logout()
    form = client.get(link, follow=True)
    assert form.status_code == 200 and form.context["validlink"]
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "Zerno-Tomsk-2024", "new_password2": "Zerno-Tomsk-2024"},
    )
    assert done.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("Zerno-Tomsk-2024")
    # The link works once.
    assert not client.get(link, follow=True).context["validlink"]
    event = OnboardingEvent.objects.get(kind=OnboardingEvent.Kind.PERSON_INVITED)
    assert event.actor == specialist and event.details["role"] == "owner"


def test_invite_cashier_with_one_time_password_and_deactivate(client, merchant, specialist):
    branch = BranchFactory(merchant=merchant)
    client.force_login(specialist)
    url = reverse("admin:onboarding_merchant_people", args=[merchant.pk])
    page = client.post(
        url,
        {"role": "cashier", "full_name": "Олег", "username": "oleg", "delivery": "password",
         "branch": branch.pk},
    )  # fmt: skip
    assert page.status_code == 200
    password = page.context["invite"].password
    assert password and password in page.content.decode()
    staff = StaffMember.objects.get(user__username="oleg")
    assert staff.merchant == merchant and staff.branch == branch
    assert client.get(url).content.decode().count(password) == 0  # shown once
    assert client.login(username="oleg", password=password)
    client.force_login(specialist)
    client.post(url, {"deactivate": staff.user_id})
    staff.refresh_from_db()
    staff.user.refresh_from_db()
    assert not staff.is_active and not staff.user.is_active


def test_people_boundaries(client, merchant, specialist):
    other = MerchantFactory()
    stranger = UserFactory(username="stranger-owner", role="owner")
    other.owners.add(stranger)
    other_cashier = UserFactory(username="other-cashier", role="cashier")
    StaffMember.objects.create(merchant=other, full_name="X", user=other_cashier)
    client.force_login(specialist)
    # Another merchant's people page is not there for this specialist.
    assert (
        client.get(reverse("admin:onboarding_merchant_people", args=[other.pk])).status_code == 404
    )
    # Deactivating somebody of another merchant through this merchant's page is refused.
    url = reverse("admin:onboarding_merchant_people", args=[merchant.pk])
    assert client.post(url, {"deactivate": stranger.pk}).status_code == 403
    stranger.refresh_from_db()
    assert stranger.is_active
    # A taken username is a form error.
    page = client.post(url, {"role": "owner", "full_name": "A", "username": "stranger-owner",
                             "delivery": "password"})  # fmt: skip
    assert page.status_code == 200 and "This username is taken" in page.content.decode()
    # Pickers show only this merchant's people.
    own_owner = UserFactory(username="own-owner", role="owner")
    merchant.owners.add(own_owner)
    page = client.get(reverse("admin:onboarding_merchant_change", args=[merchant.pk]))
    form = page.context["adminform"].form
    assert list(form.fields["owners"].queryset) == [own_owner]
    staff_formset = next(
        f for f in page.context["inline_admin_formsets"] if f.opts.model is StaffMember
    )
    assert other_cashier not in staff_formset.formset.form.base_fields["user"].queryset
    html = page.content.decode()
    assert "stranger-owner" not in html and "other-cashier" not in html


def test_staff_inline_on_add_page_offers_no_branches(client, specialist):
    other = MerchantFactory()
    other.specialists.add(specialist)
    BranchFactory(merchant=other, name="Чужой филиал")
    client.force_login(specialist)
    page = client.get(reverse("admin:onboarding_merchant_add"))
    assert page.status_code == 200
    assert "Чужой филиал" not in page.content.decode()


def test_standard_modules_for_a_new_merchant(client, merchant, specialist):
    client.force_login(specialist)
    url = reverse("admin:onboarding_trainingmodule_install_standard")
    assert client.get(url, {"merchant": merchant.pk}).status_code == 200
    response = client.post(url, {"merchant": merchant.pk})
    assert response.status_code == 302
    modules = TrainingModule.objects.filter(merchant=merchant)
    assert modules.count() == 4
    assert all(m.questions.count() >= 2 for m in modules)
    other = MerchantFactory()
    assert client.post(url, {"merchant": other.pk}).status_code == 200  # not offered
    assert not TrainingModule.objects.filter(merchant=other).exists()


def test_rfm_segment_is_chosen_from_the_list(client, merchant, specialist):
    client.force_login(specialist)
    url = reverse("admin:crm_segment_add")
    page = client.post(url, {"merchant": merchant.pk, "name": "Ушедшие", "kind": "rfm",
                             "rfm_segment": "Ушедшие", "phones": "[]"})  # fmt: skip
    assert page.status_code == 200
    assert "Select a valid choice" in page.content.decode()
    page = client.post(url, {"merchant": merchant.pk, "name": "Ушедшие", "kind": "rfm",
                             "rfm_segment": "", "phones": "[]"})  # fmt: skip
    assert "Choose the RFM segment from the list." in page.content.decode()
    page = client.post(url, {"merchant": merchant.pk, "name": "Ушедшие", "kind": "rfm",
                             "rfm_segment": "lapsed", "phones": "[]"})  # fmt: skip
    assert page.status_code == 302
    assert Segment.objects.get(merchant=merchant).rfm_segment == "lapsed"


def test_partner_lands_on_portfolio_and_cashier_on_till(client, merchant):
    partner = UserFactory(username="p", role="partner")
    merchant.partner = partner
    merchant.save()
    client.force_login(partner)
    assert client.get("/").url == reverse("reports:portfolio")
    cashier = UserFactory(username="c", role="cashier")
    StaffMember.objects.create(merchant=merchant, full_name="C", user=cashier)
    client.force_login(cashier)
    response = client.get(reverse("reports:portfolio"))
    assert response.status_code == 302
    assert response.url == reverse("loyalty:cashier", args=[merchant.slug])


def test_the_task_list_status_column_needs_the_reason_too(client, merchant, template, specialist):
    """The list's editable status column goes through the same task form as the task page."""
    template_apply(merchant=merchant, template=template)
    task = _task(merchant, "program_configured")
    client.force_login(specialist)
    url = (
        reverse("admin:onboarding_merchanttask_changelist") + f"?merchant__id__exact={merchant.pk}"
    )
    tasks = list(MerchantTask.objects.filter(merchant=merchant).order_by("pk"))
    data = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(task.pk),
        "form-0-status": "done",
        "_save": "Save",
    }
    assert task in tasks
    page = client.post(url, data)
    assert page.status_code == 200
    assert "does not hold yet (tiers: 0)" in page.content.decode()
    task.refresh_from_db()
    assert task.status == TaskStatus.TODO
