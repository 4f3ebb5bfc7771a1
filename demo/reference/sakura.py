"""Reference merchant: SAKURA, a sushi delivery in Novosibirsk — profile, Point A, program,
campaigns and the Point-B sizes of its seed (CASES.md)."""

from decimal import Decimal as D

from loyalty.models import CampaignKind, Channel, ReferralTrigger, ReviewPlatform, RewardForm

from .specs import tiers

MERCHANT = {
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
}
