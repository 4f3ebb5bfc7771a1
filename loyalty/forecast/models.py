"""Program drafts: a whole program (settings, tier ladder, the behaviour assumed) kept aside
so a specialist can forecast it, compare two side by side and make one the program."""

from django.conf import settings as django_settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from onboarding.models import Merchant


class ProgramDraft(models.Model):
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        related_name="program_drafts",
        verbose_name=_("merchant"),
    )
    name = models.CharField(_("name"), max_length=120)
    # Program fields and tiers as `loyalty.forecast.drafts` reads and validates them.
    settings = models.JSONField(_("settings"), default=dict)
    redeem_share_percent = models.PositiveSmallIntegerField(
        # xgettext:no-python-format
        _("members paying with points, % of checks"),
        default=50,
        help_text=_(
            "Assumption of the forecast: on this share of members' checks the client pays with "
            "as many points as the caps allow."
        ),
    )
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    applied_at = models.DateTimeField(_("made the program"), null=True, blank=True)

    class Meta:
        ordering = ["merchant", "name"]
        verbose_name = _("program draft")
        verbose_name_plural = _("program drafts")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "name"], name="uniq_program_draft_name"),
        ]

    def __str__(self) -> str:
        return self.name
