"""The five reference merchants of CASES.md as data: profile, Point A, program, campaigns,
and the Point-B sizes the demo's synthetic history is shaped after.

Spend thresholds are not in the seeds; the demo uses plausible ladders for them.

Over 450 lines: data, not logic — the five reference merchants of CASES.md written out field by
field so each figure can be checked against its seed."""

from decimal import Decimal as D

from loyalty.models import CampaignKind, Channel, ReferralTrigger, ReviewPlatform, RewardForm
from loyalty.program import TierSpec


def tiers(spec):
    return [TierSpec(name, D(cb), D(cap), D(th)) for name, cb, cap, th in spec]


REFERENCE_MERCHANTS = [
    {
        "slug": "zolotoff",
        "profile": {
            "name": "ZOLOTOFF",
            "business_type": "jewellery",
            "city": "Новокузнецк",
            "country": "RU",
            "currency": "RUB",
            "time_zone": "Asia/Novokuznetsk",
            "launch_date": "2024-08-14",
            "pos_integration": "none",
            "carrier_app": True,
            "carrier_telegram": True,
            "carrier_phone": True,
            "online_orders": False,
            "onboarding_status": "launched",
            "previous_discount_percent": D(5),
            "platform_traffic_share_percent": D(20),
            "description": "Сеть ювелирных бутиков",
        },
        "branches": ["ТЦ Планета", "ТЦ Сити Молл", "пр. Металлургов"],
        "state": [
            "Подарочные сертификаты отправляются на почту",
            "Применялись прямые скидки",
            "Нерегулярная работа с обратной связью",
            "Ручной способ поздравления с праздниками и днями рождения",
        ],
        "goals": [
            "Оцифровка клиентов",
            "Запуск программы лояльности на разных платформах",
            "Увеличение клиентской базы из разных источников",
            "Аналитика источников трафика",
            "Автоматизация поздравлений с днем рождения клиентов современными методами",
        ],
        "program": {
            "welcome_points": D(3000),
            "points_expiry_months": 24,
            "promo_earns_points": True,
            "promo_redeemable": False,
            "installment_accrual_only": True,
            "referral_bonus_points": D(500),
            "referral_bonus_trigger": ReferralTrigger.FIRST_PURCHASE,
            "referral_level1_percent": D(5),
            "referral_level2_percent": D(2),
            "referral_level3_percent": D(1),
            "staff_bonus_percent": D(0),
            "staff_bonus_note": "Внутренняя система мотивации",
        },
        "tiers": tiers(
            [
                ("Украшаем мир красотой", 3, 5, 0),
                ("Вы достойны лучшего", 5, 10, 30000),
                ("Секрет красоты – в деталях", 7, 15, 80000),
                ("Красота спасет мир", 9, 17, 150000),
                ("Вы – королева, и мы это знаем", 11, 20, 300000),
            ]
        ),
        "campaigns": [
            {
                "kind": CampaignKind.WINBACK,
                "channel": Channel.EMAIL,
                "name": "Возврат оттока",
                "reward_form": RewardForm.POINTS,
                "reward_points": D(1000),
                "days_after_last_purchase": 716,
            },
            {
                "kind": CampaignKind.CHECK_GROWTH,
                "name": "Повышение чека, удержание",
                "reward_form": RewardForm.CERTIFICATE,
                "reward_points": D(2000),
                "min_check_amount": D(15000),
                "redemption_cap_percent": D(20),
                "certificate_valid_days": 30,
            },
            {
                "kind": CampaignKind.BIRTHDAY,
                "channel": Channel.WEB_PUSH,
                "name": "Подарок ко дню рождения",
                "reward_form": RewardForm.CERTIFICATE,
                "reward_points": D(1500),
                "days_before": 10,
                "certificate_valid_days": 20,
                "redemption_cap_percent": D(20),
            },
        ],
        "point_b": {
            "contacts": 7066,
            "imported": 5731,
            "digitised": 1276,
            "buyers": 692,
            "purchases": 752,
            "referrals": 109,
            "referral_buyers": 4,
            "referral_depth": 3,
            "average_check": 18826,
            "ratings": 46,
            "reviews": 22,
            "certificates": 540,
            "by_phone_share": 0.3,
        },
    },
    {
        "slug": "kz-restaurant",
        "profile": {
            "name": "Ресторан (Казахстан)",
            "business_type": "restaurant",
            "city": "Алматы",
            "country": "KZ",
            "currency": "KZT",
            "time_zone": "Asia/Almaty",
            "launch_date": "2024-06-01",
            "pos_integration": "none",
            "carrier_app": True,
            "carrier_telegram": False,
            "carrier_phone": True,
            "online_orders": False,
            "onboarding_status": "launched",
            "previous_discount_percent": D(10),
            "platform_traffic_share_percent": D(20),
        },
        "branches": ["Ресторан"],
        "state": [
            "Нет программы лояльности",
            "Прямые скидки",
            "Несистемная клиентская база",
            "Пластиковые дисконтные карты",
            "Фокус на привлечении, а не удержании",
        ],
        "goals": [
            "Стратегия лояльности",
            "Расчёт бонусной программы и акций",
            "Запуск реферальной программы",
            "Привлечение гостей",
            "Качество работы персонала с программой",
            "Коммуникации во всех каналах",
            "Конкурсы и розыгрыши",
            "Автоматические воронки сертификатов для повторных покупок",
            "Рост среднего чека",
            "Рост возвращаемости",
        ],
        "program": {
            "welcome_points": D(5000),
            "points_expiry_months": 24,
            "referral_bonus_points": D(0),
            "referral_level1_percent": D(3),
            "referral_level2_percent": D(1),
            "referral_level3_percent": D(1),
        },
        "tiers": tiers(
            [
                ("5%", 5, 7, 0),
                ("7%", 7, 10, 200000),
                ("10%", 10, 15, 500000),
                ("15%", 15, 20, 1000000),
                ("20%", 20, 20, 2000000),
            ]
        ),
        "campaigns": [
            {
                "kind": CampaignKind.BIRTHDAY,
                "channel": Channel.WEB_PUSH,
                "name": "Сертификат ко дню рождения",
                "reward_form": RewardForm.CERTIFICATE,
                "reward_points": D(1000),
                "days_before": 0,
                "certificate_valid_days": 15,
                "redemption_cap_percent": D(7),
            },
            {
                "kind": CampaignKind.WINBACK,
                "channel": Channel.EMAIL,
                "name": "Напоминание через 15 дней",
                "reward_form": RewardForm.CERTIFICATE,
                "reward_points": D(2000),
                "days_after_last_purchase": 15,
                "certificate_valid_days": 14,
                "redemption_cap_percent": D(20),
            },
            {
                "kind": CampaignKind.REVIEW_REWARD,
                "name": "Отзыв в 2ГИС",
                "reward_form": RewardForm.POINTS,
                "reward_points": D(1000),
                "review_platform": ReviewPlatform.TWOGIS,
            },
            {
                "kind": CampaignKind.PARTNER_CERTIFICATE,
                "name": "Кросс-маркетинг с партнёрами",
                "reward_form": RewardForm.CERTIFICATE,
                "reward_points": D(1000),
                "partner_name": "Партнёрские компании",
                "certificates_count": 725,
                "certificate_valid_days": 30,
                "redemption_cap_percent": D(20),
            },
        ],
        "point_b": {
            "contacts": 2420,
            "imported": 0,
            "digitised": 1820,
            "buyers": 1775,
            "purchases": 2350,
            "referrals": 51,
            "referral_buyers": 10,
            "referral_depth": 2,
            "average_check": 91350,
            "ratings": 165,
            "reviews": 60,
            "certificates": 705,
            "by_phone_share": 0.2,
        },
    },
    {
        "slug": "rustore",
        "profile": {
            "name": "ruStore",
            "business_type": "electronics",
            "city": "Кореновск",
            "country": "RU",
            "currency": "RUB",
            "time_zone": "Europe/Moscow",
            "launch_date": "2024-04-01",
            "pos_integration": "evotor",
            "carrier_app": True,
            "carrier_telegram": True,
            "carrier_phone": True,
            "online_orders": True,
            "online_orders_note": "Заказы в приложении 24/7, самовывоз из любого салона, без онлайн-оплаты",
            "onboarding_status": "launched",
            "previous_discount_percent": D(2),
            "platform_traffic_share_percent": D(20),
            "description": "Салоны цифровой электроники",
        },
        "branches": ["Салон на Красной", "Салон на Тимашевской"],
        "state": [
            "Нет оцифровки клиентов",
            "Нет бонусной системы",
            "Нужно информировать о новинках",
            "Нужно дешёвое привлечение, в том числе по рекомендациям",
        ],
        "goals": [
            "Собрать базу и данные о покупках",
            "База подписчиков",
            "Мотивирующая программа",
            "Обратная связь после покупки",
            "Измерять эффективность рекламных источников",
        ],
        "program": {
            "welcome_points": D(500),
            "points_expiry_months": 12,
            "promo_earns_points": True,
            "promo_redeemable": False,
            "referral_bonus_points": D(500),
            "referral_bonus_trigger": ReferralTrigger.FIRST_PURCHASE,
            "referral_level1_percent": D("1.5"),
            "referral_level2_percent": D(1),
            "referral_level3_percent": D("0.5"),
            "staff_bonus_percent": D("0.1"),
        },
        "tiers": tiers(
            [
                ("Серебро", 1, 10, 0),
                ("Золото", 2, 20, 100000),
                ("Платина", 3, 35, 300000),
                ("VIP", 5, 50, 700000),
            ]
        ),
        "campaigns": [
            {
                "kind": CampaignKind.BIRTHDAY,
                "channel": Channel.WEB_PUSH,
                "name": "Сертификат ко дню рождения",
                "reward_form": RewardForm.CERTIFICATE,
                "reward_points": D(5000),
                "days_before": 7,
                "certificate_valid_days": 22,
                "redemption_cap_percent": D(5),
            },
        ],
        "promo_codes": ["INSTAGRAM", "VK", "TGCHANNEL", "TAPLINK", "TELEGRAM"],
        "point_b": {
            "contacts": 1455,
            "imported": 0,
            "digitised": 1419,
            "buyers": 921,
            "purchases": 1168,
            "referrals": 30,
            "referral_buyers": 5,
            "referral_depth": 2,
            "average_check": 60967,
            "ratings": 129,
            "reviews": 24,
            "certificates": 727,
            "by_phone_share": 0.03,
        },
    },
    {
        "slug": "sakura",
        "profile": {
            "name": "САКУРА",
            "business_type": "food_delivery",
            "city": "Новосибирск",
            "country": "RU",
            "currency": "RUB",
            "time_zone": "Asia/Novosibirsk",
            "launch_date": "2024-03-01",
            "pos_integration": "none",
            "carrier_app": True,
            "carrier_telegram": False,
            "carrier_phone": True,
            "online_orders": True,
            "online_orders_note": "Онлайн-магазин с прайс-листом в приложении",
            "onboarding_status": "launched",
            "previous_discount_percent": D(10),
            "platform_traffic_share_percent": D(20),
            "description": "Доставка японской кухни",
        },
        "branches": ["Кухня"],
        "state": [
            "Большая база без работы с ней",
            "Нет удобного заказа",
            "Нет коммуникации",
        ],
        "goals": [
            "Процесс без интеграции с кассой (только приложение кассира)",
            "Сразу онлайн-магазин",
            "Перенести существующую базу",
            "Обучить персонал",
        ],
        "program": {
            "welcome_points": D(100),
            "points_expiry_months": None,
            "referral_bonus_points": D(50),
            "referral_bonus_trigger": ReferralTrigger.FIRST_PURCHASE,
            "referral_level1_percent": D(5),
        },
        "tiers": tiers(
            [
                ("Новичок", 3, 50, 0),
                ("Любитель", 5, 50, 5000),
                ("Эксперт по вкусной еде", 7, 50, 15000),
                ("Мастер японской кухни", 10, 50, 30000),
                ("Любимый клиент", 12, 50, 60000),
            ]
        ),
        "campaigns": [
            {
                "kind": CampaignKind.WINBACK,
                "channel": Channel.EMAIL,
                "name": "Возврат через 60 дней",
                "reward_form": RewardForm.CERTIFICATE,
                "reward_points": D(150),
                "days_after_last_purchase": 60,
                "certificate_valid_days": 7,
                "redemption_cap_percent": D(50),
            },
            {
                "kind": CampaignKind.BIRTHDAY,
                "channel": Channel.WEB_PUSH,
                "name": "День рождения",
                "reward_form": RewardForm.CERTIFICATE,
                "reward_points": D(300),
                "days_before": 3,
                "certificate_valid_days": 7,
                "redemption_cap_percent": D(50),
            },
            {
                "kind": CampaignKind.REVIEW_REWARD,
                "name": "Отзыв на картах",
                "reward_form": RewardForm.CERTIFICATE,
                "reward_points": D(250),
                "review_platform": ReviewPlatform.MAPS,
                "certificate_valid_days": 14,
                "redemption_cap_percent": D(50),
            },
        ],
        "point_b": {
            "contacts": 13101,
            "imported": 9252,
            "digitised": 2429,
            "buyers": 2000,
            "purchases": 6000,
            "referrals": 139,
            "referral_buyers": 60,
            "referral_depth": 3,
            "average_check": 1650,
            "ratings": 80,
            "reviews": 34,
            "certificates": 600,
            "by_phone_share": 0.5,
        },
    },
    {
        "slug": "tbilisi-restaurant",
        "profile": {
            "name": "Ресторан (Грузия)",
            "business_type": "restaurant",
            "city": "Тбилиси",
            "country": "GE",
            "currency": "GEL",
            "time_zone": "Asia/Tbilisi",
            "launch_date": "2024-10-01",
            "pos_integration": "poster",
            "carrier_app": True,
            "carrier_telegram": False,
            "carrier_phone": True,
            "online_orders": True,
            "onboarding_status": "launched",
            "previous_discount_percent": D(0),
            "platform_traffic_share_percent": D(20),
            "poster_account": "tbilisi-restaurant",
        },
        "branches": ["Ресторан"],
        "state": [
            "Нет базы клиентов",
            "Нет скидок и акций",
            "Нет программы лояльности",
            "Нет коммуникации",
            "Нет отзывов",
        ],
        "goals": [
            "Онлайн-магазин",
            "Собственная клиентская база",
            "Интеграция с кассой (Poster)",
            "Обратная связь напрямую от клиентов",
        ],
        "program": {
            "welcome_points": D(5),
            "points_expiry_months": None,
            "referral_bonus_points": D(3),
            "referral_bonus_trigger": ReferralTrigger.FIRST_PURCHASE,
            "referral_level1_percent": D(1),
        },
        "tiers": tiers(
            [
                ("Покупатель", 2, 20, 0),
                ("Дегустатор", 3, 20, 300),
                ("Шеф", 4, 20, 800),
                ("Гурман", 5, 20, 1500),
                ("Маэстро", 6, 20, 3000),
            ]
        ),
        "campaigns": [
            {
                "kind": CampaignKind.SEGMENT_GIFT,
                "name": "Подарок отточным клиентам",
                "reward_form": RewardForm.POINTS,
                "reward_points": D(10),
                "burn_after_days": 3,
                "channel": Channel.WEB_PUSH,
            },
            {
                # The seed reports certificate revenue without naming the mechanic; the
                # demo issues them for reviews, the seed's other focus.
                "kind": CampaignKind.REVIEW_REWARD,
                "name": "Сертификат за отзыв",
                "reward_form": RewardForm.CERTIFICATE,
                "reward_points": D(5),
                "review_platform": ReviewPlatform.APP,
                "certificate_valid_days": 14,
                "redemption_cap_percent": D(20),
            },
        ],
        "point_b": {
            "contacts": 1502,
            "imported": 0,
            "digitised": 1317,
            "buyers": 520,
            "purchases": 1503,
            "referrals": 72,
            "referral_buyers": 30,
            "referral_depth": 1,
            "average_check": 45,
            "ratings": 145,
            "reviews": 145,
            "certificates": 60,
            "by_phone_share": 0.4,
        },
    },
]


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
