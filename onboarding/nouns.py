"""How the admin names a model in a sentence: the case, number and gender a language needs.

Django builds admin texts from a model's `verbose_name` alone ("Delete %s", "The {name} … was
added", "13 {verbose_name_plural}"), which in Russian gives "Удалить программа лояльности",
"компания … был успешно добавлен" and "13 сотрудники". Each model shown in the admin names here
the forms a sentence needs, all of them in the catalogue beside the translation of the noun:

- `accusative`: the object of a verb ("Delete the merchant" → "Удалить компанию");
- `selected`: the selected objects of a verb ("Удалить выбранных сотрудников");
- `count`: a number with the noun in its plural form ("13 сотрудников");
- `gender`: the grammatical gender of the translated noun ("masculine", "feminine" or
  "neuter"), which picks the success message ("Компания «…» добавлена").

A model without an entry falls back to forms that need no agreement ("Сотрудники: 13",
"Добавлено: …"), so nothing reads broken; `tests/test_russian_text.py` requires an entry for
every model of ours that the admin shows."""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext_lazy, pgettext_lazy

from onboarding.money import format_number

GENDERS = ("masculine", "feminine", "neuter")


@dataclass(frozen=True)
class Noun:
    accusative: Promise
    selected: Promise
    count: Promise
    gender: Promise


NOUNS: dict[str, Noun] = {
    "onboarding.Merchant": Noun(
        accusative=pgettext_lazy("accusative", "merchant"),
        selected=pgettext_lazy("accusative", "selected merchants"),
        count=ngettext_lazy("%(count)s merchant", "%(count)s merchants", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "merchant"),
    ),
    "onboarding.Branch": Noun(
        accusative=pgettext_lazy("accusative", "branch"),
        selected=pgettext_lazy("accusative", "selected branches"),
        count=ngettext_lazy("%(count)s branch", "%(count)s branches", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "branch"),
    ),
    "onboarding.PointAItem": Noun(
        accusative=pgettext_lazy("accusative", "Point A item"),
        selected=pgettext_lazy("accusative", "selected Point A items"),
        count=ngettext_lazy("%(count)s Point A item", "%(count)s Point A items", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "Point A item"),
    ),
    "onboarding.StaffMember": Noun(
        accusative=pgettext_lazy("accusative", "staff member"),
        selected=pgettext_lazy("accusative", "selected staff members"),
        count=ngettext_lazy("%(count)s staff member", "%(count)s staff members", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "staff member"),
    ),
    "onboarding.ChecklistTemplate": Noun(
        accusative=pgettext_lazy("accusative", "checklist template"),
        selected=pgettext_lazy("accusative", "selected checklist templates"),
        count=ngettext_lazy(
            "%(count)s checklist template", "%(count)s checklist templates", "count"
        ),
        gender=pgettext_lazy(
            "grammatical gender: masculine, feminine or neuter", "checklist template"
        ),
    ),
    "onboarding.ChecklistTemplateItem": Noun(
        accusative=pgettext_lazy("accusative", "checklist template item"),
        selected=pgettext_lazy("accusative", "selected checklist template items"),
        count=ngettext_lazy(
            "%(count)s checklist template item", "%(count)s checklist template items", "count"
        ),
        gender=pgettext_lazy(
            "grammatical gender: masculine, feminine or neuter", "checklist template item"
        ),
    ),
    "onboarding.MerchantTask": Noun(
        accusative=pgettext_lazy("accusative", "onboarding task"),
        selected=pgettext_lazy("accusative", "selected onboarding tasks"),
        count=ngettext_lazy("%(count)s onboarding task", "%(count)s onboarding tasks", "count"),
        gender=pgettext_lazy(
            "grammatical gender: masculine, feminine or neuter", "onboarding task"
        ),
    ),
    "onboarding.OnboardingEvent": Noun(
        accusative=pgettext_lazy("accusative", "onboarding event"),
        selected=pgettext_lazy("accusative", "selected onboarding events"),
        count=ngettext_lazy("%(count)s onboarding event", "%(count)s onboarding events", "count"),
        gender=pgettext_lazy(
            "grammatical gender: masculine, feminine or neuter", "onboarding event"
        ),
    ),
    "onboarding.TrainingModule": Noun(
        accusative=pgettext_lazy("accusative", "training module"),
        selected=pgettext_lazy("accusative", "selected training modules"),
        count=ngettext_lazy("%(count)s training module", "%(count)s training modules", "count"),
        gender=pgettext_lazy(
            "grammatical gender: masculine, feminine or neuter", "training module"
        ),
    ),
    "onboarding.QuizQuestion": Noun(
        accusative=pgettext_lazy("accusative", "quiz question"),
        selected=pgettext_lazy("accusative", "selected quiz questions"),
        count=ngettext_lazy("%(count)s quiz question", "%(count)s quiz questions", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "quiz question"),
    ),
    "onboarding.QuizAnswer": Noun(
        accusative=pgettext_lazy("accusative", "answer"),
        selected=pgettext_lazy("accusative", "selected answers"),
        count=ngettext_lazy("%(count)s answer", "%(count)s answers", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "answer"),
    ),
    "onboarding.QuizLink": Noun(
        accusative=pgettext_lazy("accusative", "quiz link"),
        selected=pgettext_lazy("accusative", "selected quiz links"),
        count=ngettext_lazy("%(count)s quiz link", "%(count)s quiz links", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "quiz link"),
    ),
    "onboarding.Attestation": Noun(
        accusative=pgettext_lazy("accusative", "attestation"),
        selected=pgettext_lazy("accusative", "selected attestations"),
        count=ngettext_lazy("%(count)s attestation", "%(count)s attestations", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "attestation"),
    ),
    "onboarding.BonusPeriod": Noun(
        accusative=pgettext_lazy("accusative", "staff bonus period"),
        selected=pgettext_lazy("accusative", "selected staff bonus periods"),
        count=ngettext_lazy(
            "%(count)s staff bonus period", "%(count)s staff bonus periods", "count"
        ),
        gender=pgettext_lazy(
            "grammatical gender: masculine, feminine or neuter", "staff bonus period"
        ),
    ),
    "onboarding.BonusLine": Noun(
        accusative=pgettext_lazy("accusative", "staff bonus line"),
        selected=pgettext_lazy("accusative", "selected staff bonus lines"),
        count=ngettext_lazy("%(count)s staff bonus line", "%(count)s staff bonus lines", "count"),
        gender=pgettext_lazy(
            "grammatical gender: masculine, feminine or neuter", "staff bonus line"
        ),
    ),
    "loyalty.ProgramDraft": Noun(
        accusative=pgettext_lazy("accusative", "program draft"),
        selected=pgettext_lazy("accusative", "selected program drafts"),
        count=ngettext_lazy("%(count)s program draft", "%(count)s program drafts", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "program draft"),
    ),
    "loyalty.Program": Noun(
        accusative=pgettext_lazy("accusative", "loyalty program"),
        selected=pgettext_lazy("accusative", "selected loyalty programs"),
        count=ngettext_lazy("%(count)s loyalty program", "%(count)s loyalty programs", "count"),
        gender=pgettext_lazy(
            "grammatical gender: masculine, feminine or neuter", "loyalty program"
        ),
    ),
    "loyalty.Tier": Noun(
        accusative=pgettext_lazy("accusative", "tier"),
        selected=pgettext_lazy("accusative", "selected tiers"),
        count=ngettext_lazy("%(count)s tier", "%(count)s tiers", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "tier"),
    ),
    "loyalty.Campaign": Noun(
        accusative=pgettext_lazy("accusative", "campaign"),
        selected=pgettext_lazy("accusative", "selected campaigns"),
        count=ngettext_lazy("%(count)s campaign", "%(count)s campaigns", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "campaign"),
    ),
    "loyalty.Certificate": Noun(
        accusative=pgettext_lazy("accusative", "certificate"),
        selected=pgettext_lazy("accusative", "selected certificates"),
        count=ngettext_lazy("%(count)s certificate", "%(count)s certificates", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "certificate"),
    ),
    "loyalty.Purchase": Noun(
        accusative=pgettext_lazy("accusative", "purchase"),
        selected=pgettext_lazy("accusative", "selected purchases"),
        count=ngettext_lazy("%(count)s purchase", "%(count)s purchases", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "purchase"),
    ),
    "loyalty.Refund": Noun(
        accusative=pgettext_lazy("accusative", "refund"),
        selected=pgettext_lazy("accusative", "selected refunds"),
        count=ngettext_lazy("%(count)s refund", "%(count)s refunds", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "refund"),
    ),
    "loyalty.LedgerEntry": Noun(
        accusative=pgettext_lazy("accusative", "ledger entry"),
        selected=pgettext_lazy("accusative", "selected ledger entries"),
        count=ngettext_lazy("%(count)s ledger entry", "%(count)s ledger entries", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "ledger entry"),
    ),
    "loyalty.CampaignIssuance": Noun(
        accusative=pgettext_lazy("accusative", "campaign issuance"),
        selected=pgettext_lazy("accusative", "selected campaign issuances"),
        count=ngettext_lazy("%(count)s campaign issuance", "%(count)s campaign issuances", "count"),
        gender=pgettext_lazy(
            "grammatical gender: masculine, feminine or neuter", "campaign issuance"
        ),
    ),
    "loyalty.OutboxMessage": Noun(
        accusative=pgettext_lazy("accusative", "outbox message"),
        selected=pgettext_lazy("accusative", "selected outbox messages"),
        count=ngettext_lazy("%(count)s outbox message", "%(count)s outbox messages", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "outbox message"),
    ),
    "loyalty.PosEvent": Noun(
        accusative=pgettext_lazy("accusative", "POS event"),
        selected=pgettext_lazy("accusative", "selected POS events"),
        count=ngettext_lazy("%(count)s POS event", "%(count)s POS events", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "POS event"),
    ),
    "loyalty.PendingRefund": Noun(
        accusative=pgettext_lazy("accusative", "pending refund"),
        selected=pgettext_lazy("accusative", "selected pending refunds"),
        count=ngettext_lazy("%(count)s pending refund", "%(count)s pending refunds", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "pending refund"),
    ),
    "crm.Client": Noun(
        accusative=pgettext_lazy("accusative", "client"),
        selected=pgettext_lazy("accusative", "selected clients"),
        count=ngettext_lazy("%(count)s client", "%(count)s clients", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "client"),
    ),
    "crm.Review": Noun(
        accusative=pgettext_lazy("accusative", "review"),
        selected=pgettext_lazy("accusative", "selected reviews"),
        count=ngettext_lazy("%(count)s review", "%(count)s reviews", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "review"),
    ),
    "crm.Segment": Noun(
        accusative=pgettext_lazy("accusative", "segment"),
        selected=pgettext_lazy("accusative", "selected segments"),
        count=ngettext_lazy("%(count)s segment", "%(count)s segments", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "segment"),
    ),
    "crm.ImportBatch": Noun(
        accusative=pgettext_lazy("accusative", "import run"),
        selected=pgettext_lazy("accusative", "selected import runs"),
        count=ngettext_lazy("%(count)s import run", "%(count)s import runs", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "import run"),
    ),
    "reports.BenefitComponent": Noun(
        accusative=pgettext_lazy("accusative", "benefit component"),
        selected=pgettext_lazy("accusative", "selected benefit components"),
        count=ngettext_lazy("%(count)s benefit component", "%(count)s benefit components", "count"),
        gender=pgettext_lazy(
            "grammatical gender: masculine, feminine or neuter", "benefit component"
        ),
    ),
    "reports.ReportSnapshot": Noun(
        accusative=pgettext_lazy("accusative", "report snapshot"),
        selected=pgettext_lazy("accusative", "selected report snapshots"),
        count=ngettext_lazy("%(count)s report snapshot", "%(count)s report snapshots", "count"),
        gender=pgettext_lazy(
            "grammatical gender: masculine, feminine or neuter", "report snapshot"
        ),
    ),
    "reports.CaseStudy": Noun(
        accusative=pgettext_lazy("accusative", "case-study report"),
        selected=pgettext_lazy("accusative", "selected case-study reports"),
        count=ngettext_lazy("%(count)s case-study report", "%(count)s case-study reports", "count"),
        gender=pgettext_lazy(
            "grammatical gender: masculine, feminine or neuter", "case-study report"
        ),
    ),
    "auth.User": Noun(
        accusative=pgettext_lazy("accusative", "user"),
        selected=pgettext_lazy("accusative", "selected users"),
        count=ngettext_lazy("%(count)s user", "%(count)s users", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "user"),
    ),
    "auth.Group": Noun(
        accusative=pgettext_lazy("accusative", "group"),
        selected=pgettext_lazy("accusative", "selected groups"),
        count=ngettext_lazy("%(count)s group", "%(count)s groups", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "group"),
    ),
    "django_celery_beat.PeriodicTask": Noun(
        accusative=pgettext_lazy("accusative", "periodic task"),
        selected=pgettext_lazy("accusative", "selected periodic tasks"),
        count=ngettext_lazy("%(count)s periodic task", "%(count)s periodic tasks", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "periodic task"),
    ),
    "loyalty.ChannelSettings": Noun(
        accusative=pgettext_lazy("accusative", "channel settings"),
        selected=pgettext_lazy("accusative", "selected channel settings"),
        count=ngettext_lazy(
            "%(count)s channel settings record", "%(count)s channel settings records", "count"
        ),
        gender=pgettext_lazy(
            "grammatical gender: masculine, feminine or neuter", "channel settings"
        ),
    ),
    "loyalty.TelegramLink": Noun(
        accusative=pgettext_lazy("accusative", "Telegram link"),
        selected=pgettext_lazy("accusative", "selected Telegram links"),
        count=ngettext_lazy("%(count)s Telegram link", "%(count)s Telegram links", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "Telegram link"),
    ),
    "loyalty.WebPushSubscription": Noun(
        accusative=pgettext_lazy("accusative", "web push subscription"),
        selected=pgettext_lazy("accusative", "selected web push subscriptions"),
        count=ngettext_lazy(
            "%(count)s web push subscription", "%(count)s web push subscriptions", "count"
        ),
        gender=pgettext_lazy(
            "grammatical gender: masculine, feminine or neuter", "web push subscription"
        ),
    ),
    "cards.PartnerBatch": Noun(
        accusative=pgettext_lazy("accusative", "partner certificate batch"),
        selected=pgettext_lazy("accusative", "selected partner certificate batches"),
        count=ngettext_lazy(
            "%(count)s partner certificate batch", "%(count)s partner certificate batches", "count"
        ),
        gender=pgettext_lazy(
            "grammatical gender: masculine, feminine or neuter", "partner certificate batch"
        ),
    ),
    "cards.ConsentRecord": Noun(
        accusative=pgettext_lazy("accusative", "consent record"),
        selected=pgettext_lazy("accusative", "selected consent records"),
        count=ngettext_lazy("%(count)s consent record", "%(count)s consent records", "count"),
        gender=pgettext_lazy("grammatical gender: masculine, feminine or neuter", "consent record"),
    ),
    "cards.FeedbackRequest": Noun(
        accusative=pgettext_lazy("accusative", "feedback request"),
        selected=pgettext_lazy("accusative", "selected feedback requests"),
        count=ngettext_lazy("%(count)s feedback request", "%(count)s feedback requests", "count"),
        gender=pgettext_lazy(
            "grammatical gender: masculine, feminine or neuter", "feedback request"
        ),
    ),
}


def noun_for(model) -> Noun | None:
    opts = getattr(model, "_meta", model)
    return NOUNS.get(opts.label)


def accusative(model) -> str:
    """The model's noun as the object of a verb ("компанию"); the plain name if unknown."""
    noun = noun_for(model)
    opts = getattr(model, "_meta", model)
    return str(noun.accusative) if noun else str(opts.verbose_name)


def selected(model, count: int | None = None) -> str:
    """The selected objects of a verb, "выбранных сотрудников" (accusative singular for one)."""
    if count == 1:
        return accusative(model)
    noun = noun_for(model)
    opts = getattr(model, "_meta", model)
    return str(noun.selected) if noun else str(opts.verbose_name_plural)


class GroupedCount(int):
    """An int that prints grouped by thousands ("1 234") while plural rules see the number."""

    def __str__(self) -> str:
        return format_number(int(self), decimal_places=0)


def count_of(model, count: int) -> str:
    """A count with its noun, "13 сотрудников"; "Журнал баллов: 13" for a model without forms."""
    noun = noun_for(model)
    count = GroupedCount(count or 0)
    if noun is not None:
        return noun.count % {"count": count}
    opts = getattr(model, "_meta", model)
    return gettext("%(things)s: %(count)s") % {
        "things": capfirst(opts.verbose_name_plural),
        "count": count,
    }


def gender(model) -> str | None:
    """The noun's gender in the active language ("masculine", "feminine", "neuter"); None if none
    for this noun (English) or the model has no entry."""
    noun = noun_for(model)
    value = str(noun.gender) if noun else None
    return value if value in GENDERS else None
