"""Demo data: the five reference merchants with deterministic synthetic histories.

The history is generated in memory with the program's own rules (tier cashback, caps,
referral percentages, welcome points) and written with bulk inserts, so the cached
balances always equal the ledger sums. Running it again changes nothing that exists.

Over 450 lines: one idea, the deterministic history generator of the five merchants (clients,
purchases, ledger, certificates, campaigns, reviews), which must stay in step with itself. It lives
in the `demo` app, the top floor, so it may build every app's objects."""

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils.translation import gettext, ngettext

from cards.models import PartnerBatch
from cards.partners import partner_batch_create
from crm.models import Client, ClientSource, Review, Segment
from loyalty.campaigns.expiry import BURN_PREFIX
from loyalty.campaigns.segments import gift_period
from loyalty.channels.api import webpush_public_key
from loyalty.models import (
    Campaign,
    CampaignIssuance,
    Certificate,
    LedgerEntry,
    LedgerKind,
    PaymentType,
    Program,
    Purchase,
    PurchaseSource,
)
from loyalty.program import campaign_configure, program_configure
from onboarding import roles
from onboarding.checklists import demo_onboarding
from onboarding.models import Branch, Merchant, PointAItem, StaffMember, StaffRole
from onboarding.money import HUNDRED, ZERO, percent_of, q, q_down
from reports.models import BenefitComponent

from .reference import REFERENCE_MERCHANTS, SEED_CASES

DEMO_PASSWORD = "demo-pass-2024"
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


def _person(rng: random.Random) -> tuple[str, str]:
    """A name and its gender; female surnames take the feminine ending."""
    gender = rng.choice(["f", "m"])
    first = rng.choice(FEMALE_NAMES if gender == "f" else MALE_NAMES)
    surname = rng.choice(SURNAMES) + ("а" if gender == "f" else "")
    return f"{first} {surname}", gender


PHONE_PREFIX = {"RU": "+7913", "KZ": "+7701", "GE": "+99555"}


@dataclass
class DemoLogin:
    username: str
    role: str
    merchants: list = field(default_factory=list)


def _user(username: str, role: str, *, superuser: bool = False) -> User:
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_password(DEMO_PASSWORD)
        user.email = f"{username}@demo.local"
        user.is_staff = superuser or role in (roles.SPECIALIST, roles.PARTNER)
        user.is_superuser = superuser
        user.save()
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def _named(user: User, first: str, last: str) -> User:
    if (user.first_name, user.last_name) != (first, last):
        user.first_name, user.last_name = first, last
        user.save(update_fields=["first_name", "last_name"])
    return user


def demo_refusal(*, debug: bool, force: bool) -> str | None:
    """Why the demo must not load into this database, or None. The demo creates the superuser
    `admin` with the published DEMO_PASSWORD: it loads only with DEBUG or an explicit force, and
    never into a database holding a merchant of its own (any slug outside the demo's five)."""
    demo_slugs = [ref["slug"] for ref in REFERENCE_MERCHANTS]
    others = Merchant.objects.exclude(slug__in=demo_slugs).count()
    if others:
        return ngettext(
            "This database holds %(count)d merchant that is not part of the demo; the demo "
            "(superuser “admin” with a published password) is never loaded into it.",
            "This database holds %(count)d merchants that are not part of the demo; the demo "
            "(superuser “admin” with a published password) is never loaded into it.",
            others,
        ) % {"count": others}
    if not (debug or force):
        return gettext(
            "DEBUG is off: the demo creates the superuser “admin” with a published password. "
            "Run it with DEBUG=true, or with --force on a machine nobody else can reach."
        )
    return None


def demo_load(*, stdout=None) -> list[DemoLogin]:
    """Create (or complete) the demo. Returns the logins to print.

    The people follow the seeds: each merchant's owner login carries the case's client
    name, its partner and specialist logins the case's partner and specialists."""
    logins = [DemoLogin("admin", "superuser")]
    _user("admin", "", superuser=True)
    people_logins: dict[str, DemoLogin] = {}
    for index, ref in enumerate(REFERENCE_MERCHANTS):
        case = SEED_CASES[ref["slug"]]
        merchant = _merchant(ref)
        for username, first, last in case["people"]["specialists"]:
            person = _named(_user(username, roles.SPECIALIST), first, last)
            merchant.specialists.add(person)
            people_logins.setdefault(username, DemoLogin(username, roles.SPECIALIST))
            people_logins[username].merchants.append(merchant.slug)
        username, first, last = case["people"]["partner"]
        partner = _named(_user(username, roles.PARTNER), first, last)
        if merchant.partner_id != partner.pk:
            merchant.partner = partner
            merchant.save(update_fields=["partner"])
        people_logins.setdefault(username, DemoLogin(username, roles.PARTNER))
        people_logins[username].merchants.append(merchant.slug)
        owner = _named(_user(f"owner-{ref['slug']}", roles.OWNER), *case["people"]["owner"])
        merchant.owners.add(owner)
        cashier = _user(f"cashier-{ref['slug']}", roles.CASHIER)
        StaffMember.objects.get_or_create(
            merchant=merchant,
            user=cashier,
            defaults={
                "full_name": f"Кассир {merchant.name}",
                "role": StaffRole.CASHIER,
                "branch": merchant.branches.first(),
            },
        )
        demo_onboarding(
            merchant, actions=case["actions"], extra_actions=case.get("extra_actions", [])
        )
        demo_card_site(merchant)
        demo_benefit(merchant, case["benefit"])
        if not merchant.clients.exists():
            counts = _history(merchant, ref, seed=index + 1)
            if stdout:
                stdout.write(f"  {merchant.name}: {counts}")
        logins.append(DemoLogin(owner.username, roles.OWNER, [merchant.slug]))
        logins.append(DemoLogin(cashier.username, roles.CASHIER, [merchant.slug]))
    logins[1:1] = sorted(people_logins.values(), key=lambda x: (x.role, x.username))
    return logins


def demo_benefit(merchant: Merchant, components: list[dict]) -> None:
    """The seed's benefit method as the merchant's benefit components (kept if present)."""
    for position, spec in enumerate(components, start=1):
        spec = dict(spec)
        kind = spec.pop("kind")
        lookup = {"merchant": merchant, "kind": kind}
        if kind == "manual":
            lookup["label"] = spec.pop("label")
        BenefitComponent.objects.get_or_create(**lookup, defaults={**spec, "position": position})


# The card page's branding per demo merchant (colour, accent).
DEMO_BRANDS = {
    "zolotoff": ("#8a6d1f", "#d4af37"),
    "kz-restaurant": ("#7a2e1d", "#e0a458"),
    "rustore": ("#0b5cad", "#22b8cf"),
    "sakura": ("#c2185b", "#ff8a80"),
    "tbilisi-restaurant": ("#5b2333", "#f2a541"),
}
# Seed 001's cross-marketing: certificates handed out through partner businesses.
DEMO_PARTNER_BATCHES = {
    "kz-restaurant": ("Партнёрские компании", 725, Decimal(1000), 30, Decimal(20))
}


def demo_card_site(merchant: Merchant) -> None:
    """Branding, the feedback request every 10th purchase (the seeds' practice) and the
    partner certificate batch of seed 001 — each set once, so re-running changes nothing."""
    brand, accent = DEMO_BRANDS.get(merchant.slug, ("#1f6feb", "#f5a623"))
    Merchant.objects.filter(pk=merchant.pk).update(brand_color=brand, brand_accent_color=accent)
    Program.objects.filter(merchant=merchant, feedback_every_purchases__isnull=True).update(
        feedback_every_purchases=10
    )
    spec = DEMO_PARTNER_BATCHES.get(merchant.slug)
    if spec and not PartnerBatch.objects.filter(merchant=merchant).exists():
        name, size, points, days, cap = spec
        partner_batch_create(
            merchant=merchant,
            partner_name=name,
            size=size,
            points=points,
            valid_days=days,
            redemption_cap_percent=cap,
        )


@transaction.atomic
def _merchant(ref) -> Merchant:
    profile = dict(ref["profile"])
    profile["launch_date"] = date.fromisoformat(profile["launch_date"])
    merchant, _created = Merchant.objects.update_or_create(slug=ref["slug"], defaults=profile)
    for name in ref["branches"]:
        Branch.objects.get_or_create(merchant=merchant, name=name)
    for kind, texts in (
        (PointAItem.Kind.STATE, ref["state"]),
        (PointAItem.Kind.GOAL, ref["goals"]),
    ):
        for position, text in enumerate(texts, start=1):
            PointAItem.objects.update_or_create(
                merchant=merchant, kind=kind, position=position, defaults={"text": text}
            )
    program_configure(merchant=merchant, tiers=ref["tiers"], **ref["program"])
    for spec in ref["campaigns"]:
        spec = dict(spec)
        campaign_configure(merchant=merchant, kind=spec.pop("kind"), name=spec.pop("name"), **spec)
    # The card's web push needs the merchant's VAPID keys (inbox and e-mail need nothing).
    webpush_public_key(merchant=merchant)
    for n in range(1, 4):
        StaffMember.objects.get_or_create(
            merchant=merchant,
            full_name=f"Сотрудник {n}",
            defaults={
                "role": StaffRole.CASHIER,
                "branch": merchant.branches.order_by("pk")[(n - 1) % merchant.branches.count()],
            },
        )
    return merchant


def _aware(merchant: Merchant, day: date, rng: random.Random) -> datetime:
    moment = time(hour=rng.randint(10, 20), minute=rng.randint(0, 59))
    return datetime.combine(day, moment, tzinfo=merchant.tzinfo)


@transaction.atomic
def _history(merchant: Merchant, ref, *, seed: int) -> dict:
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
        full_name, gender = _person(rng)
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
        clients[idx].joined_at = _aware(merchant, joined, rng)
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
            events.append((_aware(merchant, day, rng), idx))
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
        events, returners = _lapsed_returns(
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
        _fit(amounts, [n for n, g in enumerate(groups) if g == key], total, f"{merchant} {key}")

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
    sim = _simulate(
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
        _fit(amounts, free, revenue - fixed, f"{merchant} saving")
        rng.setstate(state)
        sim = _simulate(
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
                occurred_at=_aware(merchant, day, rng),
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
        gifts = _lapsed_gift(merchant, events, clients, returners, gift_spec, gift_day, issuances)

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
    _gift_burns(merchant, gifts)
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


def _fit(amounts: list, positions: list[int], total: Decimal, what: str) -> None:
    """Scale the amounts at `positions` so they sum to `total` exactly (cents included)."""
    total = q(total)
    if not positions:
        raise ValueError(f"Demo {what}: no purchases to carry {total}.")
    if total < Decimal("0.01") * len(positions):
        raise ValueError(f"Demo {what}: {total} is too small for {len(positions)} purchases.")
    current = sum((amounts[n] for n in positions), ZERO)
    for n in positions:
        amounts[n] = max(q(amounts[n] * total / current), Decimal("0.01"))
    biggest = max(positions, key=lambda n: amounts[n])
    amounts[biggest] += total - sum((amounts[n] for n in positions), ZERO)


def _simulate(
    merchant,
    events,
    amounts,
    clients,
    parent_of,
    tiers,
    welcome,
    b,
    rng,
    *,
    no_redeem,
    branches,
    staff,
) -> dict:
    """Run the program's rules over the card purchases in time order: tier from spend,
    redemption within the tier cap and the balance, cashback on the money paid, referral
    percentages up the chain and the one-time referral bonus. Clients are not modified."""
    program = merchant.program
    balance = {i: welcome.get(i, ZERO) for i in range(len(clients))}
    spent = {i: ZERO for i in range(len(clients))}
    stats: dict[int, list] = {}
    purchases, purchase_ledger, bought = [], [], set()
    for (moment, idx), amount in zip(events, amounts, strict=True):
        tier = max(
            (t for t in tiers if spent[idx] >= t.spend_threshold),
            key=lambda t: t.position,
            default=None,
        )
        payment = (
            PaymentType.INSTALLMENT
            if (merchant.slug == "zolotoff" and rng.random() < 0.1)
            else rng.choice([PaymentType.CARD, PaymentType.CARD, PaymentType.CASH])
        )
        redeem = ZERO
        if tier and payment != PaymentType.INSTALLMENT and rng.random() < 0.35:
            cap = q_down(amount * tier.max_redemption_percent / 100)
            redeem = q_down(min(balance[idx], cap) * Decimal(rng.choice([0.3, 0.6, 1])))
            if idx in no_redeem:
                redeem = ZERO
        paid = amount - redeem
        accrued = percent_of(paid, tier.cashback_percent) if tier else ZERO
        purchase = Purchase(
            merchant=merchant,
            client=clients[idx],
            branch=rng.choice(branches),
            cashier=rng.choice(staff) if staff else None,
            source=PurchaseSource.DEMO,
            occurred_at=moment,
            amount=amount,
            points_redeemed=redeem,
            paid_money=paid,
            payment_type=payment,
            by_phone=rng.random() < b["by_phone_share"],
            points_accrued=accrued,
            tier=tier,
        )
        purchases.append(purchase)
        entries = []
        if redeem:
            entries.append((idx, LedgerKind.REDEMPTION, -redeem, None))
        if accrued:
            entries.append((idx, LedgerKind.ACCRUAL, accrued, None))
        if idx in parent_of and idx not in bought and program.referral_bonus_points:
            entries.append(
                (parent_of[idx], LedgerKind.REFERRAL_BONUS, program.referral_bonus_points, None)
            )
        ancestor, level = parent_of.get(idx), 1
        for percent in program.referral_percents:
            if ancestor is None:
                break
            if percent:
                entries.append((ancestor, LedgerKind.REFERRAL, percent_of(paid, percent), level))
            ancestor, level = parent_of.get(ancestor), level + 1
        for owner_idx, kind, points, lvl in entries:
            balance[owner_idx] += points
            purchase_ledger.append(
                (
                    purchase,
                    LedgerEntry(
                        merchant=merchant,
                        client=clients[owner_idx],
                        kind=kind,
                        points=points,
                        referral_level=lvl,
                        created_at=moment,
                    ),
                )
            )
        spent[idx] += amount
        bought.add(idx)
        row = stats.setdefault(idx, [0, moment, moment])
        row[0] += 1
        row[2] = moment
    return {
        "purchases": purchases,
        "purchase_ledger": purchase_ledger,
        "balance": balance,
        "spent": spent,
        "clients": stats,
    }


GIFT_HOUR = time(9)


def _lapsed_returns(merchant, events, client_group, spec, *, as_of, rng):
    """Seed 004's lapsed-client gift: `returned` clients of the free rest whose previous
    purchase is older than `lapsed_days` come back within the gift's three days — their
    last purchase is moved into that window. Returns the re-sorted events and the clients."""
    gift_day = as_of - timedelta(days=spec["days_before_as_of"])
    cutoff = gift_day - timedelta(days=spec["lapsed_days"])
    by_client: dict[int, list[int]] = {}
    for n, (_moment, idx) in enumerate(events):
        by_client.setdefault(idx, []).append(n)
    eligible = sorted(
        idx
        for idx, ns in by_client.items()
        if len(ns) >= 2 and client_group[idx] is None and events[ns[-2]][0].date() < cutoff
    )
    if len(eligible) < spec["returned"]:
        raise ValueError(f"Demo {merchant}: too few lapsed clients for the gift.")
    returners = rng.sample(eligible, spec["returned"])
    for idx in returners:
        n = by_client[idx][-1]
        day = gift_day + timedelta(days=rng.randint(0, 2))
        events[n] = (_aware(merchant, day, rng), idx)
    events.sort(key=lambda e: e[0])
    return events, set(returners)


def _lapsed_gift(merchant, events, clients, returners, spec, gift_day, issuances) -> list:
    """The gift itself: a "lapsed clients" segment, one issuance and one burning campaign
    entry per lapsed client (the returners and every buyer with no purchase since the
    cut-off). Returns the gift ledger entries; `_gift_burns` burns them afterwards."""
    campaign = Campaign.objects.filter(merchant=merchant, kind="segment_gift").first()
    if campaign is None:
        return []
    segment, _created = Segment.objects.get_or_create(
        merchant=merchant,
        name="Давно не были",
        defaults={"kind": Segment.Kind.LAPSED, "lapsed_days": spec["lapsed_days"]},
    )
    cutoff = gift_day - timedelta(days=spec["lapsed_days"])
    last: dict[int, date] = {}
    for moment, idx in events:
        if idx not in returners:
            last[idx] = moment.date()
    lapsed = sorted(returners | {idx for idx, day in last.items() if day < cutoff})
    issued = datetime.combine(gift_day, GIFT_HOUR, tzinfo=merchant.tzinfo)
    burn = issued + timedelta(days=campaign.burn_after_days or 3)
    key = gift_period(segment, gift_day)
    gifts = []
    for idx in lapsed:
        issuances.append(
            CampaignIssuance(
                merchant=merchant,
                campaign=campaign,
                client=clients[idx],
                period_key=key,
                points=campaign.reward_points,
                issued_at=issued,
            )
        )
        gifts.append(
            LedgerEntry(
                merchant=merchant,
                client=clients[idx],
                kind=LedgerKind.CAMPAIGN,
                points=campaign.reward_points,
                campaign=campaign,
                expires_at=burn,
                reason=f"{campaign.kind}:{key}",
                created_at=issued,
            )
        )
    return gifts


def _gift_burns(merchant, gifts: list) -> None:
    """Each gift burned whole at its expiry (the returners redeemed no points in between),
    named the way `gifts_burn` names its burns so a later run burns nothing twice."""
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                merchant=merchant,
                client_id=g.client_id,
                kind=LedgerKind.EXPIRY,
                points=-g.points,
                campaign=g.campaign,
                reason=f"{BURN_PREFIX}{g.pk}",
                created_at=g.expires_at,
            )
            for g in gifts
        ]
    )
