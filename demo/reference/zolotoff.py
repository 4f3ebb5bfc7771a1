"""Reference merchant: ZOLOTOFF, a jewellery chain in Novokuznetsk — profile, Point A, program,
campaigns and the Point-B sizes of its seed (CASES.md)."""

from decimal import Decimal as D

from loyalty.models import CampaignKind, Channel, ReferralTrigger, RewardForm

from .specs import tiers

MERCHANT = {
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
}
