"""Checklist templates, each merchant's tasks and the onboarding log."""

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .merchants import Merchant, OnboardingStatus, PosIntegration


class ChecklistSide(models.TextChoices):
    SPECIALIST = "specialist", _("Implementation specialist")
    BUSINESS = "business", _("Business")


class ChecklistTemplate(models.Model):
    """A reusable plan of onboarding work; applying it to a merchant creates its tasks."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    is_default = models.BooleanField(
        _("default"), default=False, help_text=_("Applied by the demo and offered first.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "name"]
        verbose_name = _("checklist template")
        verbose_name_plural = _("checklist templates")

    def __str__(self) -> str:
        return self.name


class ChecklistFact(models.TextChoices):
    """Facts of the merchant's data that complete a checklist task by themselves."""

    CLIENTS_IMPORTED = "clients_imported", _("Client base imported (at least N clients)")
    PROGRAM_CONFIGURED = "program_configured", _("Program configured (tiers set)")
    POS_EVENT = "pos_event", _("First sale from the till (POS event or cashier page)")
    PURCHASE_EVERY_BRANCH = "purchase_every_branch", _("A card purchase in every branch")
    CARD_PURCHASES = "card_purchases", _("At least N card purchases")
    STAFF_ATTESTED = "staff_attested", _("Staff attested (at least N %)")
    CAMPAIGN_ISSUED = "campaign_issued", _("First campaign reward issued")
    POS_CREDENTIALS = "pos_credentials", _("POS credentials saved")
    POS_TEST_EVENT = "pos_test_event", _("A signed test event received from the POS")
    POS_FIRST_SALE = "pos_first_sale", _("First real sale recorded from the till")
    POS_FIRST_REFUND = "pos_first_refund", _("First refund recorded from the till")


class ChecklistTemplateItem(models.Model):
    template = models.ForeignKey(
        ChecklistTemplate,
        on_delete=models.CASCADE,
        related_name="items",
        verbose_name=_("template"),
    )
    side = models.CharField(_("side"), max_length=12, choices=ChecklistSide)
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    required = models.BooleanField(
        _("required for launch"),
        default=True,
        help_text=_("The merchant cannot be launched until required tasks are done."),
    )
    fact = models.CharField(
        _("completed by the fact"),
        max_length=24,
        choices=ChecklistFact,
        blank=True,
        help_text=_("The task ticks itself when this fact holds in the merchant's data."),
    )
    fact_threshold = models.PositiveIntegerField(
        _("fact threshold"),
        null=True,
        blank=True,
        help_text=_("N for the fact: clients, purchases or percent of staff attested."),
    )
    integration = models.CharField(
        _("only for the POS integration"),
        max_length=16,
        choices=PosIntegration,
        blank=True,
        help_text=_("Empty: every merchant; otherwise only merchants with this integration."),
    )
    due_offset_days = models.PositiveSmallIntegerField(
        _("due, days from start"),
        default=7,
        validators=[MaxValueValidator(365)],
        help_text=_("Days from the day the checklist is applied to the merchant."),
    )
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["template", "position", "id"]
        verbose_name = _("checklist template item")
        verbose_name_plural = _("checklist template items")

    def __str__(self) -> str:
        return self.title


class TaskStatus(models.TextChoices):
    TODO = "todo", _("To do")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    SKIPPED = "skipped", _("Not needed")


OPEN_TASK_STATUSES = (TaskStatus.TODO, TaskStatus.IN_PROGRESS)


class MerchantTask(models.Model):
    """One item of a merchant's onboarding checklist."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("merchant")
    )
    template_item = models.ForeignKey(
        ChecklistTemplateItem,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
        verbose_name=_("template item"),
    )
    side = models.CharField(
        _("side"), max_length=12, choices=ChecklistSide, default=ChecklistSide.SPECIALIST
    )
    title = models.CharField(_("title"), max_length=300)
    required = models.BooleanField(_("required for launch"), default=True)
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="onboarding_tasks",
        verbose_name=_("responsible (login)"),
    )
    responsible_name = models.CharField(
        _("responsible person"),
        max_length=200,
        blank=True,
        help_text=_("On the business side: the merchant's person in charge."),
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=TaskStatus, default=TaskStatus.TODO
    )
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("completed by"),
    )
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    fact = models.CharField(
        _("completed by the fact"),
        max_length=24,
        choices=ChecklistFact,
        blank=True,
        help_text=_("The task ticks itself when this fact holds in the merchant's data."),
    )
    fact_threshold = models.PositiveIntegerField(
        _("fact threshold"),
        null=True,
        blank=True,
        help_text=_("N for the fact: clients, purchases or percent of staff attested."),
    )
    fact_override_reason = models.TextField(
        _("fact override reason"),
        blank=True,
        help_text=_(
            "Only to mark the task done while its fact does not hold yet: why. "
            "The override is logged with your name and the time."
        ),
    )
    comment = models.TextField(_("comment"), blank=True)
    attachment_url = models.URLField(_("attachment link"), max_length=500, blank=True)
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["merchant", "due_date", "position", "id"]
        verbose_name = _("onboarding task")
        verbose_name_plural = _("onboarding tasks")
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "template_item"],
                name="uniq_task_template_item",
                condition=models.Q(template_item__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["merchant", "status", "due_date"])]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_TASK_STATUSES


class OnboardingEvent(models.Model):
    """Append-only history of a merchant's onboarding: status changes, launch overrides,
    applied templates."""

    class Kind(models.TextChoices):
        STATUS_CHANGED = "status_changed", _("Status changed")
        LAUNCH_OVERRIDE = "launch_override", _("Launch gate overridden")
        TEMPLATE_APPLIED = "template_applied", _("Checklist applied")
        PERIOD_CLOSED = "period_closed", _("Bonus period closed")
        FACT_OVERRIDE = "fact_override", _("Task done without its fact")
        FACT_VERIFIED = "fact_verified", _("Tasks ticked by facts")
        PERSON_INVITED = "person_invited", _("Login created")
        PERSON_DEACTIVATED = "person_deactivated", _("Login deactivated")
        OWNER_LINK_CREATED = "owner_link_created", _("Owner link created")
        OWNER_LINK_REVOKED = "owner_link_revoked", _("Owner link revoked")
        POS_IDENTITY_CHANGED = "pos_identity", _("POS identity changed")

    merchant = models.ForeignKey(
        Merchant,
        verbose_name=_("merchant"),
        on_delete=models.CASCADE,
        related_name="onboarding_events",
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    from_status = models.CharField(_("from"), max_length=16, blank=True)
    to_status = models.CharField(_("to"), max_length=16, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("onboarding event")
        verbose_name_plural = _("onboarding log")
        indexes = [models.Index(fields=["merchant", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.created_at:%Y-%m-%d}"

    @staticmethod
    def status_label(code: str) -> str:
        """The onboarding status as a person reads it ("Запущен"), the code if it is unknown."""
        if not code:
            return ""
        try:
            return str(OnboardingStatus(code).label)
        except ValueError:
            return code

    @property
    def from_status_label(self) -> str:
        return self.status_label(self.from_status)

    @property
    def to_status_label(self) -> str:
        return self.status_label(self.to_status)
