"""The merchant hub: the onboarding journey as ordered steps, each with its state, what the
data shows and the page where the next action happens.

profile → people & logins → client base → program → campaigns → POS or cashier page →
staff training → checklist → launch → results. Built from `facts.facts_for` and one
task count, so the hub costs a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from .facts import MerchantFacts
from .models import Merchant, OnboardingStatus, PosIntegration, TaskStatus

DONE, NEXT, TODO = "done", "next", "todo"


@dataclass
class Step:
    key: str
    title: str
    done: bool
    summary: str
    url: str
    action: str
    state: str = TODO


def _admin(name: str, *args, **query) -> str:
    url = reverse(f"admin:{name}", args=args)
    return f"{url}?{urlencode(query)}" if query else url


def journey_steps(*, merchant: Merchant, facts: MerchantFacts) -> list[Step]:
    """The journey of one merchant; the first step not done is "next"."""
    tasks = merchant.tasks.aggregate(
        total=Count("pk"),
        required_open=Count("pk", filter=Q(required=True) & ~Q(status=TaskStatus.DONE)),
    )
    branches = merchant.branches.count()
    program = getattr(merchant, "program", None)
    hub = _admin("onboarding_merchant_change", merchant.pk)
    pos = merchant.pos_integration
    launched = merchant.onboarding_status == OnboardingStatus.LAUNCHED
    steps = [
        Step(
            "profile",
            _("Profile"),
            bool(branches and merchant.city),
            _("branches: %(n)d") % {"n": branches},
            hub + "#profile",
            _("Fill in the profile and branches"),
        ),
        Step(
            "people",
            _("People & logins"),
            facts.owners > 0 and facts.logins > 0,
            _("owners: %(owners)d, cashier logins: %(logins)d")
            % {"owners": facts.owners, "logins": facts.logins},
            _admin("onboarding_merchant_people", merchant.pk),
            _("Invite the owner and the cashiers"),
        ),
        Step(
            "clients",
            _("Client base"),
            facts.clients > 0,
            _("clients: %(n)d, imported: %(imported)d")
            % {"n": facts.clients, "imported": facts.imported_clients},
            _admin("crm_client_import", merchant=merchant.pk),
            _("Import the client base"),
        ),
        Step(
            "program",
            _("Program"),
            facts.tiers > 0,
            _("tiers: %(n)d") % {"n": facts.tiers},
            _admin("loyalty_program_change", program.pk) if program else hub,
            _("Configure the program"),
        ),
        Step(
            "campaigns",
            _("Campaigns"),
            facts.campaigns > 0,
            _("campaigns: %(n)d, rewards issued: %(issued)d")
            % {"n": facts.campaigns, "issued": facts.issuances},
            _admin("loyalty_campaign_add", merchant=merchant.pk),
            _("Add a campaign"),
        ),
        Step(
            "till",
            _("Cashier page") if pos == PosIntegration.NONE else _("POS connection"),
            facts.pos_events + facts.till_purchases > 0,
            _("sales from the till: %(n)d") % {"n": facts.pos_events + facts.till_purchases},
            reverse("loyalty:cashier", args=[merchant.slug])
            if pos == PosIntegration.NONE
            else hub + "#pos-credentials",
            _("Record the first sale") if pos == PosIntegration.NONE else _("Connect the POS"),
        ),
        Step(
            "training",
            _("Staff training"),
            facts.staff > 0 and facts.staff_attested_percent >= 80,
            _("modules: %(modules)d, staff attested: %(done)d of %(all)d")
            % {"modules": facts.modules, "done": facts.staff_attested, "all": facts.staff},
            _admin("onboarding_training_matrix", merchant=merchant.pk)
            if facts.modules
            else _admin("onboarding_trainingmodule_install_standard", merchant=merchant.pk),
            _("Train and attest the staff") if facts.modules else _("Add the standard modules"),
        ),
        Step(
            "checklist",
            _("Checklist"),
            tasks["total"] > 0 and tasks["required_open"] == 0,
            _("required tasks open: %(n)d") % {"n": tasks["required_open"]}
            if tasks["total"]
            else _("no checklist applied"),
            hub + "#onboarding-checklist"
            if tasks["total"]
            else _admin("onboarding_merchant_apply_checklist", merchant.pk),
            _("Work through the checklist") if tasks["total"] else _("Apply the checklist"),
        ),
        Step(
            "launch",
            _("Launch"),
            launched,
            merchant.get_onboarding_status_display(),
            hub + "#profile",
            _("Launch the program"),
        ),
        Step(
            "results",
            _("Results"),
            launched and facts.card_purchases > 0,
            _("card purchases: %(n)d") % {"n": facts.card_purchases},
            reverse("reports:dashboard", args=[merchant.slug]),
            _("Open the dashboard"),
        ),
    ]
    for step in steps:
        step.state = DONE if step.done else TODO
    first_open = next((s for s in steps if not s.done), None)
    if first_open is not None:
        first_open.state = NEXT
    return steps
