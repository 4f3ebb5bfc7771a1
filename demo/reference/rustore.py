"""Reference merchant: ruStore, an electronics shop in Korenovsk — profile, Point A, program,
campaigns and the Point-B sizes of its seed (CASES.md)."""

from decimal import Decimal as D

from loyalty.models import CampaignKind, Channel, ReferralTrigger, RewardForm

from .specs import tiers

MERCHANT = {
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
}
