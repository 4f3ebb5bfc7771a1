"""Seed the standard onboarding checklist from the reference cases' "actions for the result"
(specialist side and business side), each with a required flag and a due offset in days."""

from django.db import migrations

TEMPLATE_NAME = "Стандартное внедрение"
TEMPLATE_DESCRIPTION = (
    "Действия специалиста по внедрению и бизнеса из кейсов 000–004 "
    "(«Действия для получения результата»)."
)

# (side, title, required, due offset in days from the day the checklist is applied)
ITEMS = [
    ("specialist", "Разработать концепцию программы лояльности с учётом сегмента", True, 3),
    ("specialist", "Настроить программу: уровни, кешбэк, списание, приветственные баллы, рефералы", True, 5),
    ("specialist", "Провести импорт клиентской базы", True, 7),
    ("specialist", "Заполнить профиль компании: описание, ссылки, модули, автоответы, особые условия", True, 7),
    ("specialist", "Подключить кассу (Эвотор / Poster) или страницу кассира", False, 10),
    ("specialist", "Разработать макеты для брендирования точек продаж", False, 10),
    ("specialist", "Обучить и аттестовать сотрудников (оплаты картой лояльности, заказы, начисление по номеру)", True, 14),
    ("specialist", "Провести обучение менеджера программы лояльности / собственника", True, 14),
    ("specialist", "Обеспечить сотрудников инструкциями и вспомогательными материалами", True, 14),
    ("specialist", "Настроить интернет-магазин и перенести прайс", False, 21),
    ("specialist", "Настроить автоматические поздравления и push-уведомления", False, 21),
    ("specialist", "Разработать и запустить акции", False, 30),
    ("specialist", "Контроль запуска, информирование собственника об обновлениях", False, 30),
    ("specialist", "Ежемесячная RFM-аналитика", False, 45),
    ("business", "Назначить ответственное лицо за работу программы лояльности", True, 3),
    ("business", "Организовать рабочий чат с сотрудниками для вопросов при запуске", True, 7),
    ("business", "Брендировать точки продаж вспомогательными материалами", False, 14),
    ("business", "Анонсировать запуск программы во всех каналах", True, 21),
    ("business", "Задать промокод для каждого канала коммуникации", False, 21),
    ("business", "Наладить систему мотивации персонала (премия сотрудникам)", False, 21),
    ("business", "Совместить программу с акционными предложениями", False, 30),
    ("business", "Нарисовать карту пути клиента", False, 30),
    ("business", "Контроль работы сотрудников со стороны руководства", False, 30),
    ("business", "Проводить 100% оплат через программу", False, 30),
    ("business", "Использовать статистику платформы для аналитики", False, 45),
]


def seed(apps, schema_editor):
    Template = apps.get_model("onboarding", "ChecklistTemplate")
    Item = apps.get_model("onboarding", "ChecklistTemplateItem")
    template, created = Template.objects.get_or_create(
        name=TEMPLATE_NAME,
        defaults={"description": TEMPLATE_DESCRIPTION, "is_default": True},
    )
    if not created:
        return
    Item.objects.bulk_create(
        Item(
            template=template,
            side=side,
            title=title,
            required=required,
            due_offset_days=offset,
            position=position,
        )
        for position, (side, title, required, offset) in enumerate(ITEMS, start=1)
    )


def unseed(apps, schema_editor):
    apps.get_model("onboarding", "ChecklistTemplate").objects.filter(name=TEMPLATE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("onboarding", "0003_checklists_training_bonus")]

    operations = [migrations.RunPython(seed, unseed)]
