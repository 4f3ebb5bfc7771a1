"""Name the facts that complete the standard checklist's items (see reference.py)."""

from django.db import migrations

TEMPLATE_NAME = "Стандартное внедрение"
# Frozen copy of demo.reference.STANDARD_CHECKLIST_FACTS at the time of this migration.
FACTS = {
    "Настроить программу: уровни, кешбэк, списание, приветственные баллы, рефералы": (
        "program_configured",
        None,
    ),
    "Провести импорт клиентской базы": ("clients_imported", 1),
    "Подключить кассу (Эвотор / Poster) или страницу кассира": ("pos_event", None),
    "Обучить и аттестовать сотрудников (оплаты картой лояльности, заказы, начисление по номеру)": (
        "staff_attested",
        80,
    ),
    "Разработать и запустить акции": ("campaign_issued", None),
    "Контроль запуска, информирование собственника об обновлениях": ("card_purchases", 100),
    "Проводить 100% оплат через программу": ("purchase_every_branch", None),
}


def name_facts(apps, schema_editor):
    Item = apps.get_model("onboarding", "ChecklistTemplateItem")
    Task = apps.get_model("onboarding", "MerchantTask")
    for title, (fact, threshold) in FACTS.items():
        items = Item.objects.filter(template__name=TEMPLATE_NAME, title=title)
        items.update(fact=fact, fact_threshold=threshold)
        Task.objects.filter(template_item__in=items).update(fact=fact, fact_threshold=threshold)


def unname_facts(apps, schema_editor):
    Item = apps.get_model("onboarding", "ChecklistTemplateItem")
    Item.objects.filter(template__name=TEMPLATE_NAME).update(fact="", fact_threshold=None)


class Migration(migrations.Migration):
    dependencies = [("onboarding", "0007_checklist_facts_people")]

    operations = [migrations.RunPython(name_facts, unname_facts)]
