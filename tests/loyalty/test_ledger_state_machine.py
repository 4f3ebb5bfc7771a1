"""A property-based state machine over the engine (issue 12): purchases with lines, line and
amount refunds, repeated and conflicting deliveries, certificates, referrals over 3 levels,
adjustments, expiry and imported opening balances — with the ledger's invariants checked
after every step. Fixed seed (derandomized) and bounded, so CI runs the same sequences."""

from datetime import timedelta
from decimal import Decimal as D
from itertools import count
from unittest import mock

import pytest
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from crm.models import Client
from loyalty.campaigns.expiry import points_expire
from loyalty.ledger import opening_balances_post
from loyalty.models import Certificate, LedgerEntry, Purchase
from loyalty.program import TierSpec, program_configure
from loyalty.services.adjustments import points_adjust
from loyalty.services.errors import IdempotencyConflict, LoyaltyError
from loyalty.services.lines import LineInput, RefundLineInput
from loyalty.services.purchases import purchase_record
from loyalty.services.refunds import refund_record
from onboarding.money import q
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

PERCENTS = {1: D(5), 2: D(2), 3: D(1)}
BONUS = D(50)
SEQ = count()


class LedgerMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.merchant = MerchantFactory(slug=f"machine-{next(SEQ)}")
        program_configure(
            merchant=self.merchant,
            tiers=[TierSpec("T1", D(3), D(20), D(0)), TierSpec("T2", D(5), D(30), D(50000))],
            welcome_points=D(100),
            referral_bonus_points=BONUS,
            referral_level1_percent=PERCENTS[1],
            referral_level2_percent=PERCENTS[2],
            referral_level3_percent=PERCENTS[3],
            points_expiry_months=1,
        )
        self.clock = timezone.now() - timedelta(days=30)
        root = Client.objects.create(merchant=self.merchant, phone="+79130000000")
        self.clients = [root]
        for n in range(1, 5):  # a chain: each referred by the previous one
            self.clients.append(
                Client.objects.create(
                    merchant=self.merchant, phone=f"+7913000000{n}", referred_by=self.clients[-1]
                )
            )
        self.keys: dict[str, tuple] = {}
        self.seen: dict[int, tuple] = {}
        self.snapshots: list[tuple] = []

    def tick(self):
        self.clock += timedelta(minutes=7)
        return self.clock

    def client(self, index):
        return Client.objects.get(pk=self.clients[index % len(self.clients)].pk)

    @rule(
        who=st.integers(0, 9),
        regular=st.integers(0, 30000),
        promo=st.integers(0, 10000),
        pay=st.integers(0, 100),
        key=st.sampled_from([None, "a", "b", "c"]),
    )
    def purchase(self, who, regular, promo, pay, key):
        client = self.client(who)
        lines = [LineInput(amount=D(regular), external_id="r")]
        if promo:
            lines.append(LineInput(amount=D(promo), promo=True, external_id="p"))
        points = min(client.balance, D(regular) * D("0.2")) * pay // 100
        at = self.tick()
        args = dict(client=client, lines=lines, points_to_redeem=points, external_id=key)
        try:
            result = purchase_record(
                merchant=self.merchant,
                amount=D(regular + promo),
                payment_type="card",
                source="evotor",
                occurred_at=at,
                **args,
            )
        except IdempotencyConflict:
            assert key in self.keys and self.keys[key][1] != (client.pk, regular, promo, points)
            return
        if key is not None:
            if key in self.keys:  # the same content again: the first result
                assert result.duplicate and result.purchase.pk == self.keys[key][0]
            else:
                self.keys[key] = (result.purchase.pk, (client.pk, regular, promo, points))

    @precondition(lambda self: Purchase.objects.filter(merchant=self.merchant).exists())
    @rule(pick=st.integers(0, 50), line=st.sampled_from(["r", "p", None]), part=st.integers(1, 100))
    def refund(self, pick, line, part):
        purchases = list(Purchase.objects.filter(merchant=self.merchant).order_by("pk"))
        purchase = purchases[pick % len(purchases)]
        left = purchase.amount - purchase.refunded_amount
        if left <= 0:
            return
        try:
            if line is None:  # the cashier page: an amount, no promo part named
                amount = max(D("0.01"), (left * part / 100).quantize(D("0.01")))
                refund_record(
                    merchant=self.merchant,
                    purchase=purchase,
                    amount=amount,
                    occurred_at=self.tick(),
                )
            else:
                refund_record(
                    merchant=self.merchant,
                    purchase=purchase,
                    lines=[RefundLineInput(external_id=line)],
                    occurred_at=self.tick(),
                )
        except LoyaltyError:
            pass  # nothing left of that line, or the check has no such line

    @rule(who=st.integers(0, 9), face=st.integers(100, 3000))
    def certificate_used(self, who, face):
        client = self.client(who)
        certificate = Certificate.objects.create(
            merchant=self.merchant,
            client=client,
            points=D(face),
            redemption_cap_percent=D(20),
            issued_at=self.clock - timedelta(days=1),
            valid_until=self.clock + timedelta(days=60),
        )
        purchase_record(
            merchant=self.merchant,
            client=client,
            amount=D(10000),
            certificate=certificate,
            payment_type="card",
            source="cashier",
            occurred_at=self.tick(),
        )

    @rule(who=st.integers(0, 9), points=st.integers(-500, 500))
    def adjust(self, who, points):
        client = self.client(who)
        if not points or client.balance + points < 0:
            return
        with mock.patch("loyalty.services.adjustments.timezone.now", return_value=self.tick()):
            points_adjust(
                merchant=self.merchant, client=client, points=D(points), reason="t", user=None
            )

    @rule()
    def expiry(self):
        moment = self.tick()
        points_expire(
            merchant=self.merchant, day=(moment + timedelta(days=40)).date(), moment=moment
        )

    @rule(points=st.integers(1, 5000))
    def opening_balance(self, points):
        from django.db import transaction

        newcomer = Client.objects.create(
            merchant=self.merchant, phone=f"+7913100{len(self.clients):04d}"
        )
        self.clients.append(newcomer)
        with transaction.atomic():
            opening_balances_post(
                credits=[(newcomer.pk, D(points))],
                created_at=self.tick(),
                reason="import",
                user_id=None,
            )

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def balances_equal_the_ledger_and_are_never_negative(self):
        if not hasattr(self, "merchant"):
            return
        sums = dict(
            LedgerEntry.objects.filter(merchant=self.merchant)
            .values("client_id")
            .annotate(s=Sum("points"))
            .values_list("client_id", "s")
        )
        balances = dict(Client.objects.filter(merchant=self.merchant).values_list("pk", "balance"))
        for pk, balance in balances.items():
            # SQLite sums decimals as floats: compare to the kopeck.
            assert balance == q(sums.get(pk) or 0) and balance >= 0
        self.snapshots.append((self.clock, balances))

    @invariant()
    def entries_are_only_appended(self):
        if not hasattr(self, "merchant"):
            return
        rows = {
            pk: tuple(rest)
            for pk, *rest in LedgerEntry.objects.filter(merchant=self.merchant).values_list(
                "pk", "client_id", "kind", "points", "created_at"
            )
        }
        for pk, rest in self.seen.items():
            assert rows.get(pk) == rest
        self.seen = rows

    @invariant()
    def one_key_one_purchase(self):
        if not hasattr(self, "merchant"):
            return
        for key in self.keys:
            assert Purchase.objects.filter(merchant=self.merchant, external_id=key).count() == 1

    @invariant()
    def certificates_never_pay_more_than_their_face(self):
        if not hasattr(self, "merchant"):
            return
        for used, face in Certificate.objects.filter(merchant=self.merchant).values_list(
            "used_points", "points"
        ):
            assert 0 <= used <= face

    @invariant()
    def referral_rewards_within_levels_and_gone_after_a_full_refund(self):
        if not hasattr(self, "merchant"):
            return
        # Per purchase and level: the % rewards (plus the one-time bonus on level 1) net of
        # their reversals.
        net: dict = {}
        for purchase_id, level, points in LedgerEntry.objects.filter(
            merchant=self.merchant, referral_level__isnull=False, purchase__isnull=False
        ).values_list("purchase_id", "referral_level", "points"):
            net[(purchase_id, level)] = net.get((purchase_id, level), 0) + points
        purchases = {
            p.pk: p
            for p in Purchase.objects.filter(merchant=self.merchant, pk__in=[k[0] for k in net])
        }
        for (purchase_id, level), points in net.items():
            purchase = purchases[purchase_id]
            bonus = BONUS if level == 1 else 0
            assert points <= (purchase.amount * PERCENTS[level] / 100).quantize(D("0.01")) + bonus
            if purchase.amount > 0 and purchase.refunded_amount == purchase.amount:
                assert points <= 0

    def teardown(self):
        if not getattr(self, "snapshots", None):
            return
        # Replaying the ledger up to any moment rebuilds that moment's balances.
        entries = list(
            LedgerEntry.objects.filter(merchant=self.merchant).values_list(
                "client_id", "points", "created_at"
            )
        )
        for moment, balances in self.snapshots[:: max(1, len(self.snapshots) // 5)]:
            replay: dict = {}
            for client_id, points, at in entries:
                if at <= moment:
                    replay[client_id] = replay.get(client_id, 0) + points
            for pk, balance in balances.items():
                assert balance == q(replay.get(pk) or 0), (moment, pk)


def test_ledger_state_machine():
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=8,
            stateful_step_count=15,
            derandomize=True,
            # No shrinking in CI: a failure is reported as found (derandomized, so a re-run
            # finds it again); shrinking database-backed steps takes minutes.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
