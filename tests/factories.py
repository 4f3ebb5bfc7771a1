"""factory-boy factories shared by the whole suite."""

from decimal import Decimal

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from crm.models import Client
from onboarding.models import Branch, Merchant, StaffMember


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pass-Word-123")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))
            if extracted in ("specialist", "partner"):
                self.is_staff = True
        if create:
            self.save()


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")
    country = "RU"
    currency = "RUB"
    time_zone = "Europe/Moscow"
    previous_discount_percent = Decimal(5)


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Branch {n}")


class StaffMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMember

    merchant = factory.SubFactory(MerchantFactory)
    full_name = factory.Sequence(lambda n: f"Cashier {n}")


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    merchant = factory.SubFactory(MerchantFactory)
    phone = factory.Sequence(lambda n: f"+7913{n:07d}")
    full_name = factory.Sequence(lambda n: f"Client {n}")


class MemberFactory(ClientFactory):
    """A client who joined the program (a digitised member) when created: the audience
    campaigns reward by default."""

    joined_at = factory.LazyFunction(timezone.now)


class CampaignFactory(factory.django.DjangoModelFactory):
    """A campaign; pass kind-specific fields (days_before, days_after_last_purchase, …)."""

    class Meta:
        model = "loyalty.Campaign"

    merchant = factory.SubFactory(MerchantFactory)
    kind = "birthday"
    name = factory.Sequence(lambda n: f"Campaign {n}")
    reward_form = "certificate"
    reward_points = Decimal(1000)
    certificate_valid_days = 20
    redemption_cap_percent = Decimal(20)
    channel = "console"


class CertificateFactory(factory.django.DjangoModelFactory):
    """An active certificate valid from a day ago for 20 days (pass client=…)."""

    class Meta:
        model = "loyalty.Certificate"

    client = factory.SubFactory(ClientFactory)
    merchant = factory.LazyAttribute(lambda c: c.client.merchant)
    points = Decimal(1500)
    redemption_cap_percent = Decimal(20)
    issued_at = factory.LazyFunction(lambda: _days_from_now(-1))
    valid_until = factory.LazyFunction(lambda: _days_from_now(19))


def _days_from_now(days: int):
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() + timedelta(days=days)


def reference_merchant(slug: str):
    """One of the five reference merchants of CASES.md with its program, tiers, campaigns
    and branches (no synthetic history)."""
    from demo.reference import REFERENCE_MERCHANTS
    from demo.seeding import _merchant

    ref = next(r for r in REFERENCE_MERCHANTS if r["slug"] == slug)
    return _merchant(ref)
