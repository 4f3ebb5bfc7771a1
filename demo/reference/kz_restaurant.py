"""Reference merchant: a restaurant in Almaty, Kazakhstan — profile, Point A, program, campaigns
and the Point-B sizes of its seed (CASES.md)."""

from decimal import Decimal as D

from loyalty.models import CampaignKind, Channel, ReviewPlatform, RewardForm

from .specs import tiers

MERCHANT = {
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
}
