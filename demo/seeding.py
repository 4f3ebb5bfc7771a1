"""Demo data: the five reference merchants with deterministic synthetic histories.

The history is generated in memory with the program's own rules (tier cashback, caps,
referral percentages, welcome points) and written with bulk inserts, so the cached
balances always equal the ledger sums. Running it again changes nothing that exists.

This module loads the merchants, logins, onboarding and card pages; each merchant's history is
`demo.history` (generation and writes) over `demo.simulation` (the rules run in time order). They
live in the `demo` app, the top floor, so they may build every app's objects."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils.translation import gettext, ngettext

from cards.models import PartnerBatch
from cards.partners import partner_batch_create
from loyalty.channels.api import webpush_public_key
from loyalty.models import (
    Program,
)
from loyalty.program import campaign_configure, program_configure
from onboarding import roles
from onboarding.checklists import demo_onboarding
from onboarding.models import Branch, Merchant, PointAItem, StaffMember, StaffRole
from reports.models import BenefitComponent

from .history import history_create
from .reference import REFERENCE_MERCHANTS, SEED_CASES

DEMO_PASSWORD = "demo-pass-2024"


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
            counts = history_create(merchant, ref, seed=index + 1)
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
