"""Reference merchant: a restaurant in Tbilisi, Georgia — profile, Point A, program, campaigns and
the Point-B sizes of its seed (CASES.md)."""

from decimal import Decimal as D

from loyalty.models import CampaignKind, Channel, ReferralTrigger, ReviewPlatform, RewardForm

from .specs import tiers

MERCHANT = {
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
}
