"""Portal roles. Group names and what each may do in the admin live here only."""

from django.utils.translation import gettext_lazy as _

SPECIALIST = "specialist"
PARTNER = "partner"
OWNER = "owner"
CASHIER = "cashier"

ROLE_LABELS = {
    SPECIALIST: _("Implementation specialist"),
    PARTNER: _("Partner"),
    OWNER: _("Owner"),
    CASHIER: _("Cashier"),
}

# Apps whose models the admin roles work with.
DOMAIN_APPS = ("onboarding", "loyalty", "crm", "reports", "cards")
# Records that are history: specialists read them, the engine writes them.
READ_ONLY_FOR_SPECIALISTS = {
    ("loyalty", "ledgerentry"),
    ("loyalty", "purchase"),
    ("loyalty", "refund"),
    ("loyalty", "campaignissuance"),
    ("crm", "importbatch"),
    ("onboarding", "attestation"),
    ("onboarding", "onboardingevent"),
    ("onboarding", "bonusline"),
    ("cards", "onetimecode"),
    ("cards", "cardsession"),
    ("cards", "consentrecord"),
    ("cards", "feedbackrequest"),
    ("cards", "cardcounter"),
    ("cards", "partnercode"),
}


def role_permissions(role: str, permission_model) -> list:
    """The permissions a role's group should hold (computed from the installed models)."""
    perms = permission_model.objects.filter(content_type__app_label__in=DOMAIN_APPS)
    if role == SPECIALIST:
        allowed = []
        for perm in perms.select_related("content_type"):
            key = (perm.content_type.app_label, perm.content_type.model)
            action = perm.codename.split("_", 1)[0]
            if key in READ_ONLY_FOR_SPECIALISTS and action in {"add", "delete"}:
                continue
            if key == ("onboarding", "merchant") and action == "delete":
                continue
            allowed.append(perm)
        beat = permission_model.objects.filter(content_type__app_label="django_celery_beat")
        return allowed + list(beat)
    if role == PARTNER:
        return list(perms.filter(codename__startswith="view_"))
    return []  # owners and cashiers never use the admin


def sync_roles(group_model, permission_model) -> None:
    """Create the role groups and (re)assign their permissions. Idempotent."""
    for role in (SPECIALIST, PARTNER, OWNER, CASHIER):
        group, _created = group_model.objects.get_or_create(name=role)
        group.permissions.set(role_permissions(role, permission_model))
