"""POS readiness: add each integration's steps (checked by facts) to the standard checklist."""

from django.db import migrations

TEMPLATE_NAME = "Стандартное внедрение"
AFTER = "Подключить кассу (Эвотор / Poster) или страницу кассира"
# Frozen copy of demo.reference.STANDARD_POS_STEPS at the time of this migration.
STEPS = [
    ("evotor", "Эвотор: сохранить токен приложения (вход кассы в программу)", "pos_credentials", 7),
    ("evotor", "Эвотор: получить подписанное тестовое событие от кассы", "pos_test_event", 8),
    ("evotor", "Эвотор: провести первую реальную продажу", "pos_first_sale", 10),
    ("evotor", "Эвотор: провести первый возврат", "pos_first_refund", 12),
    ("poster", "Poster: сохранить аккаунт, секрет приложения и API-токен", "pos_credentials", 7),
    ("poster", "Poster: получить подписанное тестовое событие (вебхук)", "pos_test_event", 8),
    ("poster", "Poster: провести первую реальную продажу", "pos_first_sale", 10),
    ("poster", "Poster: провести первый возврат", "pos_first_refund", 12),
    ("none", "Страница кассира: выдать кассиру логин", "pos_credentials", 7),
    ("none", "Страница кассира: провести первую продажу", "pos_first_sale", 10),
    ("none", "Страница кассира: оформить первый возврат", "pos_first_refund", 12),
]


def add_steps(apps, schema_editor):
    Template = apps.get_model("onboarding", "ChecklistTemplate")
    Item = apps.get_model("onboarding", "ChecklistTemplateItem")
    template = Template.objects.filter(name=TEMPLATE_NAME).first()
    if template is None:
        return
    anchor = Item.objects.filter(template=template, title=AFTER).first()
    position = anchor.position if anchor else 0
    existing = set(Item.objects.filter(template=template).values_list("title", flat=True))
    Item.objects.bulk_create(
        Item(
            template=template,
            side="specialist",
            title=title,
            required=False,
            fact=fact,
            integration=integration,
            due_offset_days=days,
            position=position,
        )
        for integration, title, fact, days in STEPS
        if title not in existing
    )


def remove_steps(apps, schema_editor):
    Item = apps.get_model("onboarding", "ChecklistTemplateItem")
    Item.objects.filter(
        template__name=TEMPLATE_NAME, title__in=[title for _i, title, _f, _d in STEPS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("onboarding", "0009_owner_link_pos_readiness")]

    operations = [migrations.RunPython(add_steps, remove_steps)]
