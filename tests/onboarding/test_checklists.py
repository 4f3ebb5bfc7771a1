"""Checklist templates → merchant tasks → the launch gate, overdue tasks, the progress page."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from onboarding import checklists
from onboarding.checklists import LaunchBlocked, merchant_set_status, template_apply
from onboarding.models import (
    ChecklistSide,
    ChecklistTemplate,
    MerchantTask,
    OnboardingEvent,
    OnboardingStatus,
    TaskStatus,
)
from tests.factories import MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def template():
    return ChecklistTemplate.objects.get(is_default=True)


@pytest.fixture
def specialist(merchant):
    user = UserFactory(username="spec", role="specialist")
    merchant.specialists.add(user)
    return user


def _items(template, merchant) -> int:
    """Items that apply to the merchant: general ones and its POS integration's steps."""
    return checklists.template_items_for(template=template, merchant=merchant).count()


def test_seeded_template_has_both_sides_from_the_seeds(template):
    items = list(template.items.all())
    assert len(items) >= 20
    sides = {i.side for i in items}
    assert sides == {ChecklistSide.SPECIALIST, ChecklistSide.BUSINESS}
    titles = " ".join(i.title for i in items)
    for phrase in ("импорт клиентской базы", "ответственное лицо", "промокод", "рабочий чат"):
        assert phrase in titles
    assert any(i.required for i in items) and any(not i.required for i in items)
    assert all(0 < i.due_offset_days <= 60 for i in items)


def test_apply_template_creates_tasks_with_due_dates_once(merchant, template):
    start = dt.date(2025, 3, 1)
    tasks = template_apply(merchant=merchant, template=template, start=start)
    assert len(tasks) == _items(template, merchant)
    item = template.items.get(title__startswith="Назначить ответственное лицо")
    task = MerchantTask.objects.get(merchant=merchant, template_item=item)
    assert task.due_date == start + dt.timedelta(days=item.due_offset_days)
    assert task.side == ChecklistSide.BUSINESS and task.required and task.status == TaskStatus.TODO
    # Applying again creates nothing new.
    assert template_apply(merchant=merchant, template=template, start=start) == []
    assert MerchantTask.objects.filter(merchant=merchant).count() == _items(template, merchant)
    assert (
        OnboardingEvent.objects.filter(
            merchant=merchant, kind=OnboardingEvent.Kind.TEMPLATE_APPLIED
        ).count()
        == 1
    )


def test_launch_gate_blocks_then_override_is_logged(merchant, template, specialist):
    template_apply(merchant=merchant, template=template)
    with pytest.raises(LaunchBlocked) as blocked:
        merchant_set_status(merchant=merchant, status=OnboardingStatus.LAUNCHED, actor=specialist)
    required = MerchantTask.objects.filter(merchant=merchant, required=True).count()
    assert len(blocked.value.blockers) == required
    merchant.refresh_from_db()
    assert merchant.onboarding_status == OnboardingStatus.DRAFT

    merchant_set_status(
        merchant=merchant,
        status=OnboardingStatus.LAUNCHED,
        actor=specialist,
        override_reason="Owner insists on opening before the holidays",
    )
    merchant.refresh_from_db()
    assert merchant.onboarding_status == OnboardingStatus.LAUNCHED
    override = OnboardingEvent.objects.get(
        merchant=merchant, kind=OnboardingEvent.Kind.LAUNCH_OVERRIDE
    )
    assert override.actor == specialist
    assert override.reason == "Owner insists on opening before the holidays"
    assert len(override.details["open_required_tasks"]) == required
    assert override.created_at is not None
    change = OnboardingEvent.objects.get(
        merchant=merchant, kind=OnboardingEvent.Kind.STATUS_CHANGED
    )
    assert (change.from_status, change.to_status) == ("draft", "launched")


def test_whitespace_reason_is_no_override(merchant, template):
    template_apply(merchant=merchant, template=template)
    with pytest.raises(LaunchBlocked):
        merchant_set_status(merchant=merchant, status="launched", override_reason="   ")


def test_launch_allowed_when_required_done(merchant, template, specialist):
    template_apply(merchant=merchant, template=template)
    for task in MerchantTask.objects.filter(merchant=merchant, required=True):
        task.fact_override_reason = "done outside the portal" if task.fact else ""
        checklists.task_set_status(task=task, status=TaskStatus.DONE, actor=specialist)
    # Optional tasks left open do not block; a required one "not needed" would.
    merchant_set_status(merchant=merchant, status=OnboardingStatus.LAUNCHED, actor=specialist)
    merchant.refresh_from_db()
    assert merchant.onboarding_status == OnboardingStatus.LAUNCHED
    assert not OnboardingEvent.objects.filter(kind=OnboardingEvent.Kind.LAUNCH_OVERRIDE).exists()


def test_skipped_required_task_still_blocks(merchant, template):
    template_apply(merchant=merchant, template=template)
    tasks = list(MerchantTask.objects.filter(merchant=merchant, required=True))
    for task in tasks[1:]:
        task.fact_override_reason = "done outside the portal" if task.fact else ""
        checklists.task_set_status(task=task, status=TaskStatus.DONE)
    checklists.task_set_status(task=tasks[0], status=TaskStatus.SKIPPED)
    with pytest.raises(LaunchBlocked) as blocked:
        merchant_set_status(merchant=merchant, status=OnboardingStatus.LAUNCHED)
    assert [t.pk for t in blocked.value.blockers] == [tasks[0].pk]


def test_no_checklist_blocks_launch(merchant):
    with pytest.raises(LaunchBlocked, match="No onboarding checklist"):
        merchant_set_status(merchant=merchant, status=OnboardingStatus.LAUNCHED)


def test_other_status_changes_are_logged_without_gate(merchant, specialist):
    merchant_set_status(merchant=merchant, status=OnboardingStatus.TRAINING, actor=specialist)
    merchant.refresh_from_db()
    assert merchant.onboarding_status == OnboardingStatus.TRAINING
    event = OnboardingEvent.objects.get(merchant=merchant)
    assert event.actor == specialist and event.to_status == "training"


def test_task_done_records_who_and_when_and_reopen_clears(merchant, template, specialist):
    template_apply(merchant=merchant, template=template)
    task = MerchantTask.objects.filter(merchant=merchant).first()
    checklists.task_set_status(task=task, status=TaskStatus.DONE, actor=specialist)
    task.refresh_from_db()
    assert task.completed_by == specialist and task.completed_at is not None
    checklists.task_set_status(task=task, status=TaskStatus.TODO, actor=specialist)
    task.refresh_from_db()
    assert task.completed_by is None and task.completed_at is None


def test_overdue_uses_merchant_local_today(template):
    merchant = MerchantFactory(time_zone="Asia/Novokuznetsk")
    today = merchant.local_today()
    template_apply(merchant=merchant, template=template, start=today - dt.timedelta(days=10))
    overdue = checklists.tasks_overdue(merchant=merchant)
    expected = MerchantTask.objects.filter(merchant=merchant, due_date__lt=today).count()
    assert expected > 0 and overdue.count() == expected
    task = overdue.first()
    checklists.task_set_status(task=task, status=TaskStatus.DONE)
    assert checklists.tasks_overdue(merchant=merchant).count() == expected - 1
    due_today = MerchantTask.objects.filter(merchant=merchant, due_date=today).first()
    if due_today:
        assert not checklists.task_is_overdue(due_today, today=today)


def test_progress_percent_overdue_next_due_and_sorting(template):
    a = MerchantFactory(name="Alpha")
    b = MerchantFactory(name="Beta")
    today = a.local_today()
    template_apply(merchant=a, template=template, start=today - dt.timedelta(days=100))
    template_apply(merchant=b, template=template, start=today)
    total = checklists.template_items_for(template=template, merchant=b).count()
    for task in MerchantTask.objects.filter(merchant=b)[:5]:
        task.fact_override_reason = "done outside the portal" if task.fact else ""
        checklists.task_set_status(task=task, status=TaskStatus.DONE)
    rows = checklists.merchants_progress(
        merchants=a.__class__.objects.filter(pk__in=[a.pk, b.pk]), sort="percent", descending=True
    )
    assert [r.merchant.name for r in rows] == ["Beta", "Alpha"]
    beta, alpha = rows
    assert beta.done == 5 and beta.total == total and beta.percent == round(500 / total)
    assert alpha.overdue == total and beta.overdue == 0
    first_open = (
        MerchantTask.objects.filter(merchant=b, status=TaskStatus.TODO)
        .order_by("due_date", "position")
        .first()
    )
    assert beta.next_due == first_open.due_date and beta.next_title == first_open.title
    by_overdue = checklists.merchants_progress(
        merchants=a.__class__.objects.all(), sort="overdue", descending=True
    )
    assert by_overdue[0].merchant == a


# --- admin wiring ------------------------------------------------------------------------


def merchant_form_data(merchant, **overrides):
    data = {
        "name": merchant.name,
        "slug": merchant.slug,
        "business_type": merchant.business_type,
        "country": merchant.country,
        "currency": merchant.currency,
        "time_zone": merchant.time_zone,
        "onboarding_status": merchant.onboarding_status,
        "pos_integration": merchant.pos_integration,
        "previous_discount_percent": "5",
        "platform_traffic_share_percent": "20",
        "adoption_target_percent": "80",
        "specialists": [u.pk for u in merchant.specialists.all()],
    }
    for prefix in ("branches", "point_a_items", "staff"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    tasks = list(
        MerchantTask.objects.filter(merchant=merchant).order_by("due_date", "position", "id")
    )
    data.update({"tasks-TOTAL_FORMS": str(len(tasks)), "tasks-INITIAL_FORMS": str(len(tasks))})
    for i, task in enumerate(tasks):
        data.update(
            {
                f"tasks-{i}-id": task.pk,
                f"tasks-{i}-merchant": merchant.pk,
                f"tasks-{i}-title": task.title,
                f"tasks-{i}-side": task.side,
                f"tasks-{i}-required": "on" if task.required else "",
                f"tasks-{i}-due_date": task.due_date.isoformat() if task.due_date else "",
                f"tasks-{i}-status": task.status,
            }
        )
    data.update(overrides)
    return {k: v for k, v in data.items() if v != ""}


def test_admin_blocks_launch_with_message_then_override(client, merchant, template, specialist):
    template_apply(merchant=merchant, template=template)
    client.force_login(specialist)
    url = reverse("admin:onboarding_merchant_change", args=[merchant.pk])
    page = client.get(url).content.decode()
    assert 'name="launch_override_reason"' in page
    assert 'name="tasks-0-status"' in page
    response = client.post(url, merchant_form_data(merchant, onboarding_status="launched"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "cannot be launched" in body
    merchant.refresh_from_db()
    assert merchant.onboarding_status == "draft"

    response = client.post(
        url,
        merchant_form_data(
            merchant, onboarding_status="launched", launch_override_reason="Pilot branch only"
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    merchant.refresh_from_db()
    assert merchant.onboarding_status == "launched"
    event = OnboardingEvent.objects.get(kind=OnboardingEvent.Kind.LAUNCH_OVERRIDE)
    assert event.actor == specialist and event.reason == "Pilot branch only"
    # The log shows on the merchant page.
    assert "Pilot branch only" in client.get(url).content.decode()


def test_admin_marks_last_tasks_done_and_launches_in_one_save(
    client, merchant, template, specialist
):
    template_apply(merchant=merchant, template=template)
    # The tasks a fact completes are done already; the rest are ticked in the launching save.
    MerchantTask.objects.filter(merchant=merchant).exclude(fact="").update(status="done")
    client.force_login(specialist)
    url = reverse("admin:onboarding_merchant_change", args=[merchant.pk])
    tasks = MerchantTask.objects.filter(merchant=merchant).order_by("due_date", "position", "id")
    assert tasks.exclude(status="done").filter(required=True).count() >= 2
    all_done = {f"tasks-{i}-status": "done" for i in range(tasks.count())}
    response = client.post(
        url, merchant_form_data(merchant, onboarding_status="launched", **all_done)
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    merchant.refresh_from_db()
    assert merchant.onboarding_status == "launched"
    assert not merchant.tasks.exclude(status="done").exists()
    assert not OnboardingEvent.objects.filter(kind=OnboardingEvent.Kind.LAUNCH_OVERRIDE).exists()
    assert OnboardingEvent.objects.filter(
        kind=OnboardingEvent.Kind.STATUS_CHANGED, to_status="launched", actor=specialist
    ).exists()


def test_admin_launch_refused_when_a_task_is_reopened_in_the_same_save(
    client, merchant, template, specialist
):
    template_apply(merchant=merchant, template=template)
    MerchantTask.objects.filter(merchant=merchant).update(status="done")
    client.force_login(specialist)
    url = reverse("admin:onboarding_merchant_change", args=[merchant.pk])
    response = client.post(
        url,
        merchant_form_data(merchant, onboarding_status="launched", **{"tasks-0-status": "todo"}),
    )
    assert response.status_code == 200
    assert "cannot be launched" in response.content.decode()
    merchant.refresh_from_db()
    assert merchant.onboarding_status == "draft"
    assert MerchantTask.objects.filter(merchant=merchant, status="done").count() == (
        MerchantTask.objects.filter(merchant=merchant).count()
    )


def test_admin_inline_marks_task_done_with_who(client, merchant, template, specialist):
    template_apply(merchant=merchant, template=template)
    client.force_login(specialist)
    url = reverse("admin:onboarding_merchant_change", args=[merchant.pk])
    response = client.post(url, merchant_form_data(merchant, **{"tasks-0-status": "done"}))
    assert response.status_code == 302, response.content.decode()[:2000]
    task = MerchantTask.objects.filter(merchant=merchant).order_by("due_date", "position", "id")[0]
    assert task.status == "done" and task.completed_by == specialist


def test_admin_overdue_highlight_and_apply_action(client, merchant, template, specialist):
    client.force_login(specialist)
    changelist = reverse("admin:onboarding_merchant_changelist")
    response = client.post(
        changelist,
        {"action": f"apply_template_{template.pk}", "_selected_action": [merchant.pk]},
    )
    assert response.status_code == 302
    assert MerchantTask.objects.filter(merchant=merchant).count() == _items(template, merchant)
    MerchantTask.objects.filter(merchant=merchant).update(
        due_date=merchant.local_today() - dt.timedelta(days=3)
    )
    page = client.get(reverse("admin:onboarding_merchant_change", args=[merchant.pk]))
    assert "Overdue 3 d" in page.content.decode()
    tasks_page = client.get(reverse("admin:onboarding_merchanttask_changelist"), {"overdue": "yes"})
    assert tasks_page.status_code == 200
    assert "Overdue 3 d" in tasks_page.content.decode()


def test_progress_page_is_scoped_and_sortable(client, template, specialist, merchant):
    other = MerchantFactory(name="Somebody else's")
    template_apply(merchant=merchant, template=template)
    template_apply(merchant=other, template=template)
    client.force_login(specialist)
    url = reverse("admin:onboarding_progress")
    for order in ("name", "-percent", "overdue", "next_due", "status"):
        response = client.get(url, {"o": order})
        assert response.status_code == 200
        body = response.content.decode()
        assert merchant.name in body and "Somebody else" not in body


def test_specialist_cannot_see_other_merchants_tasks(client, template, specialist, merchant):
    other = MerchantFactory(name="Hidden shop")
    template_apply(merchant=other, template=template)
    client.force_login(specialist)
    response = client.get(reverse("admin:onboarding_merchanttask_changelist"))
    assert "Hidden shop" not in response.content.decode()
    task = MerchantTask.objects.filter(merchant=other).first()
    assert (
        client.get(reverse("admin:onboarding_merchanttask_change", args=[task.pk])).status_code
        == 302
    )
    # The apply action cannot reach a merchant outside the specialist's queryset.
    client.post(
        reverse("admin:onboarding_merchant_changelist"),
        {"action": f"apply_template_{template.pk}", "_selected_action": [other.pk]},
    )
    assert MerchantTask.objects.filter(merchant=other).count() == _items(template, other)


def test_demo_onboarding_for_launched_merchant(template):
    from onboarding.models import Attestation, QuizLink, StaffMember, TrainingModule

    merchant = MerchantFactory(onboarding_status="launched", launch_date=dt.date(2024, 8, 14))
    StaffMember.objects.create(merchant=merchant, full_name="Кассир")
    StaffMember.objects.create(merchant=merchant, full_name="Менеджер", role="manager")
    checklists.demo_onboarding(merchant)
    checklists.demo_onboarding(merchant)  # idempotent
    tasks = MerchantTask.objects.filter(merchant=merchant)
    assert tasks.count() == _items(template, merchant)
    assert not tasks.filter(required=True).exclude(status="done").exists()
    assert tasks.filter(status="done").count() > tasks.count() * 0.7
    assert TrainingModule.objects.filter(merchant=merchant).count() == 4
    assert QuizLink.objects.filter(merchant=merchant).count() == 2
    assert Attestation.objects.filter(merchant=merchant).exists()
    assert timezone.is_aware(tasks.filter(status="done").first().completed_at)
