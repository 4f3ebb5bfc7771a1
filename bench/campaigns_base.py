"""The base of `bench/campaigns.py`: a ZOLOTOFF-like merchant with its client base, balances,
ledger, certificates, short-lived gifts and campaigns, generated with INSERT … SELECT
generate_series (the bench's docstring says what it holds)."""


def build(clients: int):
    """Generate the merchant with `clients` clients; returns it."""
    from datetime import timedelta
    from decimal import Decimal

    from django.db import connection

    from crm.models import Client
    from loyalty.models import Campaign, Certificate, LedgerEntry, Program
    from loyalty.program import campaign_configure
    from onboarding.models import Merchant

    merchant = Merchant.objects.create(
        name="ZOLOTOFF bench", slug="bench-campaigns", time_zone="Asia/Novokuznetsk"
    )
    Program.objects.create(merchant=merchant, points_expiry_months=24)
    campaign_configure(
        merchant=merchant,
        kind="birthday",
        name="Birthday",
        reward_form="certificate",
        reward_points=Decimal(1500),
        days_before=10,
        certificate_valid_days=20,
        redemption_cap_percent=Decimal(20),
    )
    campaign_configure(
        merchant=merchant,
        kind="winback",
        name="Win-back",
        reward_form="points",
        reward_points=Decimal(1000),
        days_after_last_purchase=716,
    )
    campaign_configure(
        merchant=merchant,
        kind="check_growth",
        name="Check growth",
        reward_form="certificate",
        reward_points=Decimal(2000),
        min_check_amount=Decimal(15000),
        certificate_valid_days=30,
        redemption_cap_percent=Decimal(20),
    )
    campaign_configure(
        merchant=merchant,
        kind="review_reward",
        name="Review",
        reward_form="points",
        reward_points=Decimal(250),
        review_platform="any",
    )
    gift = campaign_configure(
        merchant=merchant,
        kind="segment_gift",
        name="Gift",
        reward_form="points",
        reward_points=Decimal(50),
        burn_after_days=3,
    )
    for campaign in Campaign.objects.filter(merchant=merchant):
        Campaign.objects.filter(pk=campaign.pk).update(
            created_at=campaign.created_at - timedelta(days=30)
        )
    client_t = Client._meta.db_table
    ledger_t = LedgerEntry._meta.db_table
    cert_t = Certificate._meta.db_table
    m = merchant.pk
    with connection.cursor() as cur:
        # Days since the last purchase: 0..1099 spread evenly; every 10th client of three never
        # bought. Balances exist while the points have not expired (24 months ≈ 730 days; a few
        # days more are the day's expiry), as in a base where the daily run has been running.
        cur.execute(
            f"""
            INSERT INTO {client_t} (merchant_id, phone, full_name, birthday, gender, email,
                card_code, source, source_detail, tier_locked, joined_at, imported, consent,
                balance, total_spent, purchases_count, first_purchase_at, last_purchase_at,
                created_at, updated_at, notes)
            SELECT %s, '+7900' || lpad(i::text, 7, '0'), 'Client ' || i,
                date '1950-01-01' + ((i * 7919) %% 20000)::int,
                '', '', '', 'organic', '', false,
                now() - interval '1200 days', false, (i %% 20) <> 0,
                CASE WHEN i %% 10 < 3 THEN 0
                     WHEN (i * 37) %% 1100 <= 733 THEN (i %% 500) + 0.5 ELSE 0 END,
                CASE WHEN i %% 10 < 3 THEN 0 ELSE 5000 END,
                CASE WHEN i %% 10 < 3 THEN 0 ELSE 1 END,
                CASE WHEN i %% 10 < 3 THEN NULL
                     ELSE now() - ((i * 37) %% 1100) * interval '1 day' - interval '3 hours' END,
                CASE WHEN i %% 10 < 3 THEN NULL
                     ELSE now() - ((i * 37) %% 1100) * interval '1 day' - interval '3 hours' END,
                now() - interval '1200 days', now(), ''
            FROM generate_series(1::bigint, %s) AS i
            """,
            [m, clients],
        )
        cur.execute(
            f"""
            INSERT INTO {ledger_t} (merchant_id, client_id, kind, points, uncovered, reason,
                created_at)
            SELECT merchant_id, id, 'accrual', balance, 0, '',
                coalesce(last_purchase_at, created_at)
            FROM {client_t} WHERE merchant_id = %s AND balance > 0
            """,
            [m],
        )
        # 5 000 certificates whose validity ended yesterday, 2 000 gifts due to burn.
        cur.execute(
            f"""
            INSERT INTO {cert_t} (merchant_id, client_id, points, used_points, remainder_burns,
                redemption_cap_percent, issued_at, valid_until, status)
            SELECT merchant_id, id, 1500, 0, false, 20, now() - interval '21 days',
                now() - interval '1 day', 'active'
            FROM {client_t} WHERE merchant_id = %s ORDER BY id LIMIT 5000
            """,
            [m],
        )
        cur.execute(
            f"""
            WITH g AS (
                SELECT id FROM {client_t} WHERE merchant_id = %s AND balance > 0
                ORDER BY id DESC LIMIT 2000)
            INSERT INTO {ledger_t} (merchant_id, client_id, kind, points, uncovered, campaign_id,
                expires_at, reason, created_at)
            SELECT %s, id, 'campaign', 50, 0, %s, now() - interval '1 hour', '',
                now() - interval '3 days 1 hour' FROM g
            """,
            [m, m, gift.pk],
        )
        cur.execute(
            f"""UPDATE {client_t} SET balance = balance + 50 WHERE id IN (
                SELECT client_id FROM {ledger_t} WHERE campaign_id = %s)""",
            [gift.pk],
        )
        cur.execute("ANALYZE")
    return merchant
