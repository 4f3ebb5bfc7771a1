"""The standard checklist and POS steps the demo and migrations name, and what the demo takes
from each seed beyond the settings (people, actions, benefit, revenue targets, source mix)."""

from decimal import Decimal as D

# The standard checklist ("Стандартное внедрение", seeded by migration 0004): the items whose
# completion the merchant's data proves, with the fact and its threshold N. Migration 0008
# names these facts on the seeded template; tests/onboarding/test_facts.py keeps both equal.
STANDARD_CHECKLIST_NAME = "Стандартное внедрение"
STANDARD_CHECKLIST_FACTS = {
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
# POS readiness: the standard checklist's steps of each integration (migration 0010), each
# checked by a fact; applying the checklist creates only the merchant's own integration's.
# (integration, title, fact, due offset in days)
STANDARD_POS_STEPS = [
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
STANDARD_CHECKLIST_FACTS.update(
    {title: (fact, None) for _integration, title, fact, _days in STANDARD_POS_STEPS}
)


# ── what the demo takes from each seed beyond the settings ────────────────────────────────
# Checklist titles of the standard template (migration 0004), named once here.
T_CONCEPT = "Разработать концепцию программы лояльности с учётом сегмента"
T_PROGRAM = "Настроить программу: уровни, кешбэк, списание, приветственные баллы, рефералы"
T_IMPORT = "Провести импорт клиентской базы"
T_PROFILE = "Заполнить профиль компании: описание, ссылки, модули, автоответы, особые условия"
T_POS = "Подключить кассу (Эвотор / Poster) или страницу кассира"
T_BRAND_MOCKUPS = "Разработать макеты для брендирования точек продаж"
T_TRAIN = (
    "Обучить и аттестовать сотрудников (оплаты картой лояльности, заказы, начисление по номеру)"
)
T_MANAGER = "Провести обучение менеджера программы лояльности / собственника"
T_INSTRUCTIONS = "Обеспечить сотрудников инструкциями и вспомогательными материалами"
T_SHOP = "Настроить интернет-магазин и перенести прайс"
T_GREETINGS = "Настроить автоматические поздравления и push-уведомления"
T_PROMOS = "Разработать и запустить акции"
T_CONTROL = "Контроль запуска, информирование собственника об обновлениях"
T_RFM = "Ежемесячная RFM-аналитика"
B_RESPONSIBLE = "Назначить ответственное лицо за работу программы лояльности"
B_CHAT = "Организовать рабочий чат с сотрудниками для вопросов при запуске"
B_BRANDED = "Брендировать точки продаж вспомогательными материалами"
B_ANNOUNCE = "Анонсировать запуск программы во всех каналах"
B_PROMO_CODES = "Задать промокод для каждого канала коммуникации"
B_MOTIVATION = "Наладить систему мотивации персонала (премия сотрудникам)"
B_COMBINE = "Совместить программу с акционными предложениями"
B_CJM = "Нарисовать карту пути клиента"
B_STAFF_CONTROL = "Контроль работы сотрудников со стороны руководства"
B_ALL_PAYMENTS = "Проводить 100% оплат через программу"
B_STATISTICS = "Использовать статистику платформы для аналитики"

# Per seed (by slug):
# * people — the case's "Клиент" (the owner login), "Партнер UDS" and specialist(s): the
#   demo logins carry these names, and the case study reads them from the merchant's
#   owners, partner and specialists;
# * actions — the standard checklist items this seed's "Действия для получения результата"
#   name (done on time); the other template items are marked "not needed"; `extra_actions`
#   are the seed's own actions the template has no item for;
# * benefit — the seed's benefit method as `reports.BenefitComponent` rows: kind, counted
#   or not, attribution %, and manual components (label, amount);
# * revenue_targets — the seed's component revenues; the demo sizes its purchases so the
#   dashboard computes exactly these ("channel" or "channel:source detail", "certificates",
#   "lapsed_gift"), and `saving_target` — the saving vs the previous direct discount;
# * source_mix — shares of promo-code and platform sign-ups among the non-imported clients
#   (the rest are organic), chosen so the demo's checks stay near the seed's average.
SEED_CASES = {
    "zolotoff": {
        "people": {
            "owner": ("Елена", "Чинчин"),
            "partner": ("partner", "Юлия", "Милашенко"),
            "specialists": [("specialist2", "Ирина", "Воронова")],
        },
        "actions": [
            T_CONCEPT,
            T_PROGRAM,
            T_IMPORT,
            T_PROFILE,
            T_BRAND_MOCKUPS,
            T_TRAIN,
            T_MANAGER,
            T_INSTRUCTIONS,
            B_RESPONSIBLE,
            B_CHAT,
            B_BRANDED,
            B_COMBINE,
            B_STATISTICS,
        ],
        "extra_actions": [],
        "benefit": [
            {"kind": "saving", "included": False},
            {"kind": "certificates", "attribution_percent": D(100)},
            {"kind": "platform", "attribution_percent": D(20)},
            {"kind": "sources", "attribution_percent": D(100)},
            {"kind": "referrals", "attribution_percent": D(100)},
            {"kind": "partner", "included": False},
        ],
        "revenue_targets": {
            "certificates": D("138708"),
            "platform": D("4568145.71"),
            "promo_code": D("48655"),
            "referral": D("71298"),
        },
        "promo_codes": ["INSTAGRAM", "VK"],
        "source_mix": {"promo_code": 0.02, "platform": 0.35},
        "benefit_total": D("1172290"),
    },
    "kz-restaurant": {
        "people": {
            "owner": ("Нариман", "Куаншалиев"),
            "partner": ("partner2", "Андрей", "Гарифов"),
            "specialists": [("specialist3", "Денис", "Еловиков")],
        },
        "actions": [
            T_CONCEPT,
            T_PROGRAM,
            T_PROFILE,
            T_TRAIN,
            T_GREETINGS,
            T_PROMOS,
            T_RFM,
            B_BRANDED,
            B_ANNOUNCE,
            B_STAFF_CONTROL,
        ],
        "extra_actions": [
            ("specialist", "Привлечь гостей через рекомендации и кросс-маркетинг с партнёрами"),
            ("business", "Вести соцсети с контентом о программе лояльности"),
            ("business", "Вовлечь директора во все процессы"),
        ],
        "benefit": [
            {"kind": "saving", "attribution_percent": D(50)},
            {"kind": "certificates", "included": False},
            {"kind": "platform", "attribution_percent": D(100)},
            {"kind": "sources", "included": False},
            {"kind": "referrals", "attribution_percent": D(100)},
            {"kind": "partner", "included": False},
        ],
        "revenue_targets": {
            "certificates": D("100000"),
            "platform": D("101600000"),
            "referral": D("1450000"),
        },
        "saving_target": D("16500000"),
        "source_mix": {"promo_code": 0, "platform": 0.5},
        "benefit_total": D("111300000"),
    },
    "rustore": {
        "people": {
            "owner": ("Руслан", "Усманов"),
            "partner": ("partner3", "Виктория", "Копьева"),
            "specialists": [("specialist4", "Юлия", "Рыжакова")],
        },
        "actions": [
            T_CONCEPT,
            T_PROGRAM,
            T_PROFILE,
            T_POS,
            T_BRAND_MOCKUPS,
            T_TRAIN,
            T_SHOP,
            T_CONTROL,
            B_ANNOUNCE,
            B_PROMO_CODES,
            B_MOTIVATION,
        ],
        "extra_actions": [
            ("business", "Вовлечь собственника в работу с программой"),
            ("business", "Оцифровывать каждого клиента на кассе"),
        ],
        "benefit": [
            {"kind": "saving", "attribution_percent": D(100)},
            {"kind": "certificates", "attribution_percent": D(100)},
            {"kind": "platform", "attribution_percent": D(100)},
            {"kind": "sources", "attribution_percent": D(100)},
            {"kind": "referrals", "attribution_percent": D(100)},
            {"kind": "partner", "included": False},
        ],
        "revenue_targets": {
            "certificates": D("512543"),
            "referral": D("334610"),
            "promo_code:INSTAGRAM": D("1951109"),
            "promo_code:VK": D("29016"),
            "promo_code:TGCHANNEL": D("339090"),
            "promo_code:TAPLINK": D("186470"),
            "promo_code:TELEGRAM": D("312956"),
            "platform": D("1763488"),
        },
        "saving_target": D("1024944"),
        "source_mix": {"promo_code": 0.06, "platform": 0.04},
        "benefit_total": D("6454155"),
    },
    "sakura": {
        "people": {
            "owner": ("Татьяна", "Мальцева"),
            "partner": ("partner4", "Савелий", "Плюснин"),
            "specialists": [("specialist", "Светлана", "Гучетель")],
        },
        "actions": [
            T_PROGRAM,
            T_IMPORT,
            T_PROFILE,
            T_POS,
            T_TRAIN,
            T_MANAGER,
            T_SHOP,
            B_CJM,
            B_STAFF_CONTROL,
        ],
        "extra_actions": [
            ("specialist", "Разработать дизайн листовки в доставку"),
            ("business", "Руководитель компании включён в работу на 100%"),
        ],
        "benefit": [
            {"kind": "saving", "included": False},
            {"kind": "certificates", "attribution_percent": D(100)},
            {"kind": "platform", "included": False},
            {"kind": "sources", "included": False},
            {"kind": "referrals", "attribution_percent": D(100)},
            {"kind": "partner", "included": False},
        ],
        "revenue_targets": {
            "certificates": D("637000"),
            "referral": D("390000"),
            "promo_code": D("700000"),
        },
        "promo_codes": ["Соцсети и сайт"],
        "source_mix": {"promo_code": 0.05, "platform": 0.3},
        "benefit_total": D("1027000"),
    },
    "tbilisi-restaurant": {
        "people": {
            "owner": ("Вероника", "Дементович"),
            "partner": ("partner5", "Наталья", "Беридзе"),
            "specialists": [("specialist", "Светлана", "Гучетель")],
        },
        "actions": [
            T_CONCEPT,
            T_PROGRAM,
            T_POS,
            T_BRAND_MOCKUPS,
            T_TRAIN,
            T_MANAGER,
            T_PROMOS,
            B_STAFF_CONTROL,
            B_ALL_PAYMENTS,
        ],
        "extra_actions": [],
        "benefit": [
            {"kind": "saving", "included": False},
            {"kind": "certificates", "attribution_percent": D(100)},
            {"kind": "platform", "included": False},
            {"kind": "sources", "included": False},
            {"kind": "referrals", "attribution_percent": D(100)},
            {"kind": "partner", "included": False},
            {
                "kind": "manual",
                "label": "Баннер в приложении платформы: 80 присоединились, 26 купили",
                "manual_amount": D("3670"),
            },
            {
                "kind": "manual",
                "label": "Механика «Давно не были»: 18 клиентов вернулись за 3 дня",
                "manual_amount": D("1400"),
            },
        ],
        "revenue_targets": {
            "certificates": D("1900"),
            "referral": D("5900"),
            "lapsed_gift": D("1400"),
        },
        "lapsed_gift": {"returned": 18, "days_before_as_of": 7, "lapsed_days": 30},
        "source_mix": {"promo_code": 0, "platform": 0.6},
        "benefit_total": D("12900"),
    },
}
