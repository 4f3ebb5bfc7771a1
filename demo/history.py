"""The synthetic history of one demo merchant, shaped like its seed's Point B: clients with
their sources and referral tree, purchases, ledger, certificates, campaigns and reviews,
generated deterministically and written with bulk inserts (the rules' simulation is in
`demo.simulation`)."""

import random
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction

from crm.models import Client, ClientSource, Review
from loyalty.models import (
    Campaign,
    CampaignIssuance,
    Certificate,
    LedgerEntry,
    LedgerKind,
    PaymentType,
    Purchase,
    PurchaseSource,
)
from onboarding.models import Merchant, StaffRole
from onboarding.money import HUNDRED, ZERO, q, q_down

from .reference import SEED_CASES
from .simulation import (
    amounts_fit,
    lapsed_gifts_burn,
    lapsed_gifts_issue,
    lapsed_returns,
    moment_aware,
    purchases_simulate,
)

AS_OF = {
    "zolotoff": date(2025, 1, 31),
    "kz-restaurant": date(2024, 12, 1),
    "rustore": date(2025, 2, 2),
    "sakura": date(2024, 12, 1),
    "tbilisi-restaurant": date(2025, 1, 1),
}
FEMALE_NAMES = ["Анна", "Мария", "Елена", "Ольга", "Ирина", "Наталья", "Татьяна", "Светлана"]
MALE_NAMES = ["Алексей", "Дмитрий", "Сергей", "Андрей", "Иван", "Михаил", "Никита", "Артём"]
SURNAMES = [
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Соколов",
    "Лебедев",
    "Козлов",
    "Новиков",
    "Морозов",
    "Петров",
    "Волков",
    "Соловьёв",
]


def person_draw(rng: random.Random) -> tuple[str, str]:
    """A name and its gender; female surnames take the feminine ending."""
    gender = rng.choice(["f", "m"])
    first = rng.choice(FEMALE_NAMES if gender == "f" else MALE_NAMES)
    surname = rng.choice(SURNAMES) + ("а" if gender == "f" else "")
    return f"{first} {surname}", gender


PHONE_PREFIX = {"RU": "+7913", "KZ": "+7701", "GE": "+99555"}


@transaction.atomic
def history_create(merchant: Merchant, ref, *, seed: int) -> dict:
    """Clients, referral tree, purchases, ledger, certificates and reviews shaped like Point B."""
    rng = random.Random(seed)
    b = ref["point_b"]
    program = merchant.program
    tiers = list(program.tiers.order_by("position"))
    branches = list(merchant.branches.all())
    staff = list(merchant.staff.filter(role=StaffRole.CASHIER))
    launch, as_of = merchant.launch_date, AS_OF[merchant.slug]
    span = (as_of - launch).days
    prefix = PHONE_PREFIX.get(merchant.country, "+7913")
    case = SEED_CASES.get(merchant.slug, {})
    promo_codes = case.get("promo_codes") or ref.get("promo_codes", [])
    mix = case.get("source_mix", {"promo_code": 0.45 if promo_codes else 0, "platform": 0.37})

    # Contacts: imported ones first, then organic/platform/promo-code sign-ups.
    clients = []
    for i in range(b["contacts"]):
        imported = i < b["imported"]
        birthday = date(rng.randint(1960, 2004), rng.randint(1, 12), rng.randint(1, 28))
        if imported:
            source, detail = ClientSource.IMPORT, ""
        else:
            draw = rng.random()
            if promo_codes and draw < mix["promo_code"]:
                source, detail = ClientSource.PROMO_CODE, rng.choice(promo_codes)
            elif draw < mix["promo_code"] + mix["platform"]:
                source, detail = ClientSource.PLATFORM, ""
            else:
                source, detail = ClientSource.ORGANIC, ""
        full_name, gender = person_draw(rng)
        clients.append(
            Client(
                merchant=merchant,
                phone=f"{prefix}{i + 1:07d}",
                full_name=full_name,
                # Every third contact left an e-mail (the demo's e-mail campaigns reach them).
                email=f"client{i + 1}@{merchant.slug}.demo.local" if i % 3 == 0 else "",
                birthday=birthday,
                gender=gender,
                source=source,
                source_detail=detail,
                imported=imported,
                tier=tiers[0] if tiers else None,
            )
        )
    # Digitised members: all non-imported contacts first, then a part of the imported ones.
    order = list(range(b["imported"], b["contacts"])) + list(range(b["imported"]))
    members = order[: b["digitised"]]
    for idx in members:
        joined = launch + timedelta(days=rng.randint(0, max(span - 1, 0)))
        clients[idx].joined_at = moment_aware(merchant, joined, rng)
    parent_of = {}

    # Referral tree: chains up to the reference depth.
    members_sorted = sorted(members, key=lambda i: clients[i].joined_at)
    referred = set()
    depth_of = {}
    candidates = members_sorted[len(members_sorted) // 3 :]
    rng.shuffle(candidates)
    chosen = sorted(candidates[: b["referrals"]], key=lambda i: clients[i].joined_at)
    roots = members_sorted[: max(len(members_sorted) // 3, 1)]
    for idx in chosen:
        joined = clients[idx].joined_at
        deeper = [
            m
            for m in referred
            if depth_of[m] < b["referral_depth"] and clients[m].joined_at < joined
        ]
        if deeper and rng.random() < 0.5:
            parent = rng.choice(deeper)
        else:
            parent = rng.choice([m for m in roots if clients[m].joined_at < joined] or roots)
        if parent == idx:
            continue
        parent_of[idx] = parent
        clients[idx].source = ClientSource.REFERRAL
        depth_of[idx] = depth_of.get(parent, 0) + 1
        referred.add(idx)

    # Buyers: referral buyers from the referred set, the rest from other members.
    ref_buyers = [i for i in members_sorted if i in referred][: b["referral_buyers"]]
    others = [i for i in members_sorted if i not in referred]
    rng.shuffle(others)
    buyers = ref_buyers + others[: max(b["buyers"] - len(ref_buyers), 0)]
    purchase_counts = {i: 1 for i in buyers}
    for _n in range(max(b["purchases"] - len(buyers), 0)):
        purchase_counts[rng.choice(buyers)] += 1

    mean = float(b["average_check"])
    events = []
    for idx, count in purchase_counts.items():
        start = clients[idx].joined_at.date()
        for _n in range(count):
            day = start + timedelta(days=rng.randint(0, max((as_of - start).days, 0)))
            events.append((moment_aware(merchant, day, rng), idx))
    events.sort(key=lambda e: e[0])

    # Each card purchase falls in one revenue group: its client's channel (or channel and
    # promo code) when the seed names that revenue, else the free rest; certificate
    # purchases and lapsed-client returns are taken from the free rest.
    targets = case.get("revenue_targets", {})

    def group_of(idx: int) -> str | None:
        channel = ClientSource.REFERRAL if idx in parent_of else clients[idx].source
        detailed = f"{channel}:{clients[idx].source_detail}"
        return detailed if detailed in targets else (channel if channel in targets else None)

    client_group = {idx: group_of(idx) for idx in purchase_counts}
    gift_spec, returners = case.get("lapsed_gift"), []
    if gift_spec:
        events, returners = lapsed_returns(
            merchant, events, client_group, gift_spec, as_of=as_of, rng=rng
        )
    groups = [client_group[idx] for _m, idx in events]
    gift_day = as_of - timedelta(days=gift_spec["days_before_as_of"]) if gift_spec else None
    for n, (moment, idx) in enumerate(events):
        if idx in returners and moment.date() >= gift_day:
            groups[n] = "lapsed_gift"
    cert_campaigns = list(Campaign.objects.filter(merchant=merchant, reward_form="certificate"))
    cert_positions = []
    if cert_campaigns and members:
        free = [n for n, g in enumerate(groups) if g is None]
        count = b["certificates"] // 6
        if "certificates" in targets:
            count = max(1, min(count, round(float(targets["certificates"]) / mean)))
        cert_positions = sorted(rng.sample(free, min(count, len(free))))
        for n in cert_positions:
            groups[n] = "certificates"
    amounts = [q(max(mean * rng.lognormvariate(0, 0.45) / 1.1, mean * 0.1)) for _e in events]
    for key, total in targets.items():
        amounts_fit(
            amounts, [n for n, g in enumerate(groups) if g == key], total, f"{merchant} {key}"
        )

    # The saving (previous discount % × card revenue − points redeemed) is met by sizing the
    # free rest. Its clients redeem nothing, so the points redeemed do not depend on it.
    saving_target = case.get("saving_target")
    no_redeem = set(returners)
    if saving_target is not None:
        no_redeem |= {idx for idx, g in client_group.items() if g is None}
    ledger, welcome = [], {}
    for idx in members:
        if program.welcome_points:
            welcome[idx] = program.welcome_points
            ledger.append(
                LedgerEntry(
                    merchant=merchant,
                    client=clients[idx],
                    kind=LedgerKind.WELCOME,
                    points=program.welcome_points,
                    created_at=clients[idx].joined_at,
                )
            )
    state = rng.getstate()
    sim = purchases_simulate(
        merchant,
        events,
        amounts,
        clients,
        parent_of,
        tiers,
        welcome,
        b,
        rng,
        no_redeem=no_redeem,
        branches=branches,
        staff=staff,
    )
    if saving_target is not None:
        points = sum((p.points_redeemed for p in sim["purchases"]), ZERO)
        revenue = q((saving_target + points) * HUNDRED / merchant.previous_discount_percent)
        free = [n for n, g in enumerate(groups) if g is None]
        fixed = sum((a for n, a in enumerate(amounts) if groups[n] is not None), ZERO)
        amounts_fit(amounts, free, revenue - fixed, f"{merchant} saving")
        rng.setstate(state)
        sim = purchases_simulate(
            merchant,
            events,
            amounts,
            clients,
            parent_of,
            tiers,
            welcome,
            b,
            rng,
            no_redeem=no_redeem,
            branches=branches,
            staff=staff,
        )
    purchases, purchase_ledger = sim["purchases"], sim["purchase_ledger"]
    balance, spent = sim["balance"], sim["spent"]
    for idx, stats in sim["clients"].items():
        clients[idx].purchases_count = stats[0]
        clients[idx].first_purchase_at, clients[idx].last_purchase_at = stats[1], stats[2]
    # Purchases without a card, for the with/without-card comparison.
    for _n in range(len(events) // 2):
        day = launch + timedelta(days=rng.randint(0, max(span - 1, 0)))
        amount = q(max(mean * rng.lognormvariate(0, 0.45) / 1.45, mean * 0.1))
        purchases.append(
            Purchase(
                merchant=merchant,
                client=None,
                branch=rng.choice(branches),
                cashier=rng.choice(staff) if staff else None,
                source=PurchaseSource.DEMO,
                occurred_at=moment_aware(merchant, day, rng),
                amount=amount,
                paid_money=amount,
                payment_type=PaymentType.CASH,
            )
        )
    # Certificates issued by the merchant's certificate campaigns; the chosen purchases
    # redeemed one each.
    certificates, issuances = [], []
    if cert_campaigns and members:
        for n in range(b["certificates"]):
            campaign = cert_campaigns[n % len(cert_campaigns)]
            idx = rng.choice(members)
            issued = clients[idx].joined_at + timedelta(days=rng.randint(0, 60))
            certificates.append(
                Certificate(
                    merchant=merchant,
                    client=clients[idx],
                    campaign=campaign,
                    points=campaign.reward_points,
                    redemption_cap_percent=campaign.redemption_cap_percent or Decimal(100),
                    issued_at=issued,
                    valid_until=issued + timedelta(days=campaign.certificate_valid_days or 30),
                    status=Certificate.Status.EXPIRED,
                )
            )
        redeemers = [purchases[n] for n in cert_positions]
        for cert, purchase in zip(certificates, redeemers, strict=False):
            cert.client = purchase.client
            cert.status = Certificate.Status.REDEEMED
            cert.issued_at = purchase.occurred_at - timedelta(days=rng.randint(1, 10))
            cert.valid_until = cert.issued_at + timedelta(days=30)
            cert.redeemed_at = purchase.occurred_at
            cert.redeemed_purchase = purchase
            room = purchase.amount - purchase.points_redeemed
            used = q_down(min(cert.points, room * cert.redemption_cap_percent / 100))
            purchase.certificate_redeemed = used
            purchase.paid_money = q(room - used)
        for n, cert in enumerate(certificates):
            issuances.append(
                CampaignIssuance(
                    merchant=merchant,
                    campaign=cert.campaign,
                    client=cert.client,
                    period_key=f"demo-{n}",
                    points=cert.points,
                    certificate=cert,
                    issued_at=cert.issued_at,
                )
            )
    gifts = []
    if gift_spec:
        gifts = lapsed_gifts_issue(
            merchant, events, clients, returners, gift_spec, gift_day, issuances
        )

    # Tiers from spend and the cached figures, then one insert per table.
    for i, client in enumerate(clients):
        client.balance = balance[i]
        client.total_spent = spent[i]
        reached = [t for t in tiers if spent[i] >= t.spend_threshold]
        client.tier = reached[-1] if reached else client.tier
    Client.objects.bulk_create(clients, batch_size=2000)
    for idx, parent in parent_of.items():
        clients[idx].referred_by = clients[parent]
    Client.objects.bulk_update([clients[i] for i in parent_of], ["referred_by"], batch_size=500)
    Purchase.objects.bulk_create(purchases, batch_size=2000)
    for purchase, entry in purchase_ledger:
        entry.purchase = purchase
    ledger.extend(entry for _p, entry in purchase_ledger)
    ledger.extend(gifts)
    LedgerEntry.objects.bulk_create(ledger, batch_size=5000)
    lapsed_gifts_burn(merchant, gifts)
    Certificate.objects.bulk_create(certificates, batch_size=2000)
    CampaignIssuance.objects.bulk_create(issuances, batch_size=2000)

    # Ratings (every one with a score), of them reviews with text.
    reviews = []
    raters = list(buyers) or members
    for n in range(b["ratings"]):
        idx = rng.choice(raters)
        reviews.append(
            Review(
                merchant=merchant,
                client=clients[idx],
                rating=rng.choices([5, 4, 3], [88, 10, 2])[0],
                platform=rng.choice(["app", "2gis", "maps"]),
                text="Отличный сервис, спасибо!" if n < b["reviews"] else "",
                created_at=clients[idx].last_purchase_at or clients[idx].joined_at,
            )
        )
    Review.objects.bulk_create(reviews, batch_size=2000)
    return {
        "clients": len(clients),
        "purchases": len(purchases),
        "ledger": len(ledger),
        "certificates": len(certificates),
        "reviews": len(reviews),
    }
