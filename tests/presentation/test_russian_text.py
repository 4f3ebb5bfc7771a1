"""Item 9 of the journey: Russian that reads as written by a person. Renders the admin (lists,
forms, delete confirmations, messages after add/change/delete) and the site pages in Russian
and fails on the machine-made forms specialists reported."""

import contextlib
import datetime as dt
import re
from decimal import Decimal as D

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.html import strip_tags

from crm.models import ImportBatch, Review, Segment
from loyalty.models import OutboxMessage
from onboarding import nouns
from onboarding.admin_present import NativeTextAdminMixin, saved_message
from onboarding.models import (
    Attestation,
    BonusPeriod,
    Merchant,
    MerchantTask,
    OnboardingEvent,
    QuizQuestion,
    StaffMember,
    TrainingModule,
)
from tests.factories import CampaignFactory, StaffMemberFactory

from .conftest import ru_get

OUR_APPS = {"onboarding", "loyalty", "crm", "reports", "cards", "auth"}


def _russian_nouns() -> dict[str, tuple[str, str]]:
    """{label: (nominative singular, nominative plural)} of every admin model, in Russian."""
    with translation.override("ru"):
        return {
            m._meta.label: (str(m._meta.verbose_name), str(m._meta.verbose_name_plural))
            for m in admin.site._registry
        }


def bad_forms() -> list[tuple[str, re.Pattern]]:
    """The machine-made forms, as (why, pattern) over a page's visible text."""
    names = _russian_nouns()
    verbs = "Удалить|Добавить|Изменить|Выберите|Просмотреть|удалить|добавить|изменить"
    nominatives = []
    plurals = ["баллы", "месяцы", "дни", "попытки"]
    with translation.override("ru"):
        for label, (single, plural) in names.items():
            noun = nouns.NOUNS.get(label)
            if noun is not None and str(noun.accusative) != single:
                nominatives.append(re.escape(single))
            if noun is not None and plural not in ("время",):
                plurals.append(re.escape(plural))
    plural_words = "|".join(sorted(set(plurals), key=len, reverse=True))
    number = r"(?<![\d,.])"
    return [
        ("Django's masculine success message", re.compile(r"был(и)? успешно")),
        ("a verb with a nominative", re.compile(rf"\b({verbs}) ({'|'.join(nominatives)})\b")),
        (
            "a number ending in 0, 5–9 or 11–14 with a nominative plural",
            re.compile(rf"{number}(\d*1[1-4]|\d*[05-9])[ \u00a0]+({plural_words})\b"),
        ),
        (
            "a number ending in 1 with a plural",
            re.compile(rf"{number}(\d*[02-9]1|1)[ \u00a0]+({plural_words})\b"),
        ),
        ("a negative duration", re.compile(r"\([-−]\d+ ")),
        # "Итого | 4 |": a bare count under "Total" (a total in money carries its sign)
        ("an unnamed total", re.compile(r"Итого[\s|]*\d[\d \u00a0]*(?=\s*\|)")),
        ("a raw status code", re.compile(r"\b(draft|launched)\b")),
        ("a failed quiz as an error", re.compile(r"cell-failed[^>]*>\s*<span[^>]*>Ошибка")),
    ]


def visible_text(html: str) -> str:
    """The page as a person reads it: tags become cell borders, whitespace collapses."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"</?(a|span|b|strong|em|small|i|code)\b[^>]*>", "", html)
    text = strip_tags(re.sub(r"<[^>]+>", " | ", html))
    return re.sub(r"\s+", " ", text.replace("&nbsp;", "\u00a0"))


def assert_reads_native(html: str, where: str):
    text = visible_text(html)
    for why, pattern in bad_forms():
        target = html if why == "a failed quiz as an error" else text
        match = pattern.search(target)
        assert match is None, (
            f"{where}: {why}: …{target[max(match.start() - 60, 0) : match.end() + 30]}…"
        )


# --- the data every admin page has something of -------------------------------------------


@pytest.fixture
def full(zerno):
    m = zerno["merchant"]
    for i in range(12):  # 13 staff members: "13 сотрудников"
        StaffMemberFactory(merchant=m, full_name=f"Сотрудник {i}")
    for i in range(7):  # 7 campaigns: "7 кампаний"
        CampaignFactory(merchant=m, name=f"Кампания {i}")
    Segment.objects.create(merchant=m, name="Ушедшие", kind="lapsed")
    Review.objects.create(
        merchant=m, client=zerno["client"], platform="2gis", rating=5, created_at=timezone.now()
    )
    module = TrainingModule.objects.create(merchant=m, title="Программа лояльности")
    QuizQuestion.objects.create(module=module, text="Сколько баллов за покупку?")
    Attestation.objects.create(
        merchant=m,
        staff=zerno["staff"],
        module=module,
        score_percent=D(40),
        pass_threshold_percent=D(80),
        passed=False,
        taken_at=timezone.now(),
    )
    MerchantTask.objects.create(merchant=m, title="Загрузить клиентскую базу")
    OnboardingEvent.objects.create(
        merchant=m,
        kind=OnboardingEvent.Kind.STATUS_CHANGED,
        from_status="draft",
        to_status="launched",
        actor=zerno["root"],
    )
    BonusPeriod.objects.create(merchant=m, start=dt.date(2025, 3, 1), end=dt.date(2025, 3, 31))
    ImportBatch.objects.create(merchant=m, file_name="base.csv", report={})
    OutboxMessage.objects.create(merchant=m, client=zerno["client"], channel="console", body="Hi")
    return zerno


# --- the mechanism ---------------------------------------------------------------------------


def test_every_model_of_ours_in_the_admin_has_its_forms_and_agreeing_admin():
    missing = [
        m._meta.label
        for m, model_admin in admin.site._registry.items()
        if m._meta.app_label in OUR_APPS and nouns.noun_for(m) is None
    ]
    assert missing == []
    plain = [
        m._meta.label
        for m, model_admin in admin.site._registry.items()
        if m._meta.app_label in OUR_APPS | {"django_celery_beat"}
        and not isinstance(model_admin, NativeTextAdminMixin)
    ]
    assert plain == []


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (1, "1 сотрудник"),
        (3, "3 сотрудника"),
        (13, "13 сотрудников"),
        (21, "21 сотрудник"),
        (112, "112 сотрудников"),
        (1234, "1\u00a0234 сотрудника"),
    ],
)
def test_counts_take_the_plural_form(count, text):
    with translation.override("ru"):
        assert nouns.count_of(StaffMember, count) == text


def test_forms_of_a_feminine_a_masculine_and_a_neuter_noun():
    from loyalty.models import Program

    with translation.override("ru"):
        assert nouns.accusative(Program) == "программу лояльности"
        assert nouns.selected(StaffMember) == "выбранных сотрудников"
        assert nouns.count_of(Merchant, 7) == "7 компаний"
        cases = [
            (Merchant, "added", "", "Компания «Зерно» добавлена."),
            (StaffMember, "changed", "continue", "Сотрудник «Зерно» изменён. Ниже его"),
            (OutboxMessage, "deleted", "", "Исходящее сообщение «Зерно» удалено."),
        ]
        for model, event, variant, start in cases:
            text = saved_message(model=model, event=event, variant=variant, obj_repr="Зерно")
            assert text.startswith(start), text
    with translation.override("en"):
        text = saved_message(model=Merchant, event="added", variant="", obj_repr="Zerno")
        assert text == "The merchant “Zerno” was added successfully."


def test_a_model_without_forms_reads_well_anyway():
    from django_celery_beat.models import SolarSchedule

    with translation.override("ru"):
        assert nouns.count_of(SolarSchedule, 5) == "Астрономические события: 5"
        text = saved_message(model=SolarSchedule, event="added", variant="", obj_repr="x")
        assert text == "Добавлено: астрономическое событие «x»."


# --- pages -----------------------------------------------------------------------------------


def _admin_urls(model, obj):
    opts = model._meta
    urls = []
    for view, args in (("changelist", []), ("add", [])):
        urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args))
    if obj is not None:
        for view in ("change", "delete"):
            with contextlib.suppress(NoReverseMatch):
                urls.append(
                    reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])
                )
    return urls


def test_every_admin_page_reads_native_russian(client, full):
    client.force_login(full["root"])
    checked = 0
    for model in admin.site._registry:
        if model._meta.app_label not in OUR_APPS | {"django_celery_beat"}:
            continue
        obj = model._default_manager.order_by("pk").first()
        for url in _admin_urls(model, obj):
            response = ru_get(client, url)
            assert response.status_code < 500, url
            if response.status_code == 200:
                assert_reads_native(response.content.decode(), url)
                checked += 1
    assert checked > 60


def test_counts_titles_and_buttons_on_known_pages(client, full):
    client.force_login(full["root"])
    m = full["merchant"]
    staff = visible_text(
        ru_get(client, reverse("admin:onboarding_staffmember_changelist")).content.decode()
    )
    assert "13 сотрудников" in staff
    campaigns = visible_text(
        ru_get(client, reverse("admin:loyalty_campaign_changelist")).content.decode()
    )
    assert "7 кампаний" in campaigns
    assert "Удалить выбранные кампании" in campaigns
    program = m.program
    html = visible_text(
        ru_get(client, reverse("admin:loyalty_program_change", args=[program.pk])).content.decode()
    )
    assert "Удалить программу лояльности" in html
    html = visible_text(
        ru_get(client, reverse("admin:onboarding_merchant_delete", args=[m.pk])).content.decode()
    )
    assert "удалить компанию «Кофейня Зерно»" in html
    html = visible_text(ru_get(client, reverse("admin:onboarding_merchant_add")).content.decode())
    assert "Добавить компанию" in html
    log = visible_text(
        ru_get(client, reverse("admin:onboarding_merchant_change", args=[m.pk])).content.decode()
    )
    assert "Черновик → Запущен" in log.replace(" | ", " ") or "Запущен" in log


def test_specialist_menu_hides_the_scheduler_internals(client, full):
    client.force_login(full["specialist"])
    html = ru_get(client, reverse("admin:index")).content.decode()
    for internal in ("Crontab", "crontab", "Астрономические события", "Интервалы", "clocked"):
        assert internal not in visible_text(html), internal
    client.force_login(full["root"])
    html = visible_text(ru_get(client, reverse("admin:index")).content.decode())
    assert "Астрономические события" in html


def test_messages_after_add_change_and_delete_agree(client, full):
    client.force_login(full["root"])
    m = full["merchant"]
    client.cookies["django_language"] = "ru"
    response = client.post(
        reverse("admin:onboarding_branch_add"),
        {
            "merchant": m.pk,
            "name": "Ленина, 1",
            "address": "",
            "pos_store_id": "",
            "is_active": "on",
        },
        follow=True,
    )
    text = visible_text(response.content.decode())
    assert "Филиал «Ленина, 1» добавлен." in text, text[:2000]
    segment = Segment.objects.get(name="Ушедшие")
    response = client.post(
        reverse("admin:crm_segment_delete", args=[segment.pk]), {"post": "yes"}, follow=True
    )
    assert "Сегмент «Ушедшие» удалён." in visible_text(response.content.decode())
    task = MerchantTask.objects.get(title="Загрузить клиентскую базу")
    response = client.post(
        reverse("admin:onboarding_merchanttask_delete", args=[task.pk]),
        {"post": "yes"},
        follow=True,
    )
    assert "Задача внедрения «Загрузить клиентскую базу» удалена." in visible_text(
        response.content.decode()
    )
    campaigns = list(m.campaigns.values_list("pk", flat=True)[:3])
    response = client.post(
        reverse("admin:loyalty_campaign_changelist"),
        {"action": "delete_selected", "_selected_action": campaigns, "post": "yes"},
        follow=True,
    )
    text = visible_text(response.content.decode())
    assert "Удалено: 3 кампании." in text
    assert_reads_native(response.content.decode(), "after bulk delete")


def test_site_pages_read_native_russian(client, full):
    slug = full["merchant"].slug
    client.force_login(full["owner"])
    for name in ("reports:dashboard", "reports:case_study"):
        response = ru_get(client, reverse(name, args=[slug]))
        assert response.status_code == 200, name
        assert_reads_native(response.content.decode(), name)
    client.force_login(full["cashier"])
    for name in ("loyalty:cashier", "loyalty:cashier_purchases"):
        response = ru_get(client, reverse(name, args=[slug]), q="+79131110001")
        assert response.status_code == 200
        assert_reads_native(response.content.decode(), name)


def test_bonus_and_training_pages_read_native_russian(client, full):
    client.force_login(full["specialist"])
    m = full["merchant"]
    html = ru_get(
        client, reverse("admin:onboarding_staff_bonus"), merchant=m.pk, period="2025-03-01"
    ).content.decode()
    assert_reads_native(html, "bonus")
    assert "Итого по 1 сотруднику" in visible_text(html)
    html = ru_get(
        client, reverse("admin:onboarding_training_matrix"), merchant=m.pk
    ).content.decode()
    assert_reads_native(html, "matrix")
    assert "Не сдан" in html


@pytest.mark.parametrize(
    "text",
    [
        "Компания «Зерно» был успешно добавлен.",
        "Удалить программа лояльности",
        "Добавить компания",
        "13 сотрудники",
        "7 кампании",
        "3\u00a0000 баллы",
        "21 клиенты",
        "через (-1 месяцев)",
        "Итого | 4 | 120",
        "draft → launched",
    ],
)
def test_the_detector_catches_each_reported_form(text):
    assert any(p.search(text) for _why, p in bad_forms()), text


@pytest.mark.parametrize(
    "text",
    [
        "Компания «Зерно» добавлена.",
        "Удалить программу лояльности",
        "13 сотрудников",
        "22 кампании",
        "3\u00a0000 баллов",
        "Итого | | 318\u00a0110 ₽ |",
        "Итого по 3 сотрудникам | 4 |",
    ],
)
def test_the_detector_passes_native_forms(text):
    assert not any(p.search(text) for _why, p in bad_forms()), text
