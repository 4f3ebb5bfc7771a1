"""The staff bonus: closed periods and their lines."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .merchants import Merchant, StaffMember


class BonusPeriod(models.Model):
    """A staff-bonus period (a calendar month by default) in the merchant's local dates.
    Once closed, its figures are the frozen `BonusLine` rows and never change."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="bonus_periods", verbose_name=_("merchant")
    )
    start = models.DateField(_("first day"))
    end = models.DateField(_("last day"))
    status = models.CharField(
        _("status"), max_length=8, choices=Status, default=Status.OPEN, db_index=True
    )
    rate_percent = models.DecimalField(
        _("bonus rate, %"),
        max_digits=6,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("The program's staff bonus rate frozen when the period was closed."),
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("closed by"),
    )

    class Meta:
        ordering = ["merchant", "-start"]
        verbose_name = _("staff bonus period")
        verbose_name_plural = _("staff bonus periods")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "start"], name="uniq_bonus_period_start"),
            models.CheckConstraint(
                condition=models.Q(end__gte=models.F("start")), name="bonus_period_end_after_start"
            ),
        ]
        indexes = [models.Index(fields=["merchant", "status", "start"])]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d} – {self.end:%Y-%m-%d}"


class BonusLine(models.Model):
    """A closed period's frozen figures for one staff member."""

    merchant = models.ForeignKey(
        Merchant, verbose_name=_("merchant"), on_delete=models.CASCADE, related_name="bonus_lines"
    )
    period = models.ForeignKey(
        BonusPeriod, on_delete=models.CASCADE, related_name="lines", verbose_name=_("period")
    )
    staff = models.ForeignKey(
        StaffMember,
        null=True,
        on_delete=models.SET_NULL,
        related_name="bonus_lines",
        verbose_name=_("staff"),
    )
    staff_name = models.CharField(_("staff"), max_length=200)
    branch_name = models.CharField(_("branch"), max_length=200, blank=True)
    purchases_count = models.PositiveIntegerField(_("card purchases"), default=0)
    card_sales = models.DecimalField(_("card sales"), max_digits=14, decimal_places=2)
    refunds = models.DecimalField(_("refunds"), max_digits=14, decimal_places=2, default=0)
    net_sales = models.DecimalField(_("net card sales"), max_digits=14, decimal_places=2)
    bonus = models.DecimalField(_("bonus"), max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["period", "staff_name"]
        verbose_name = _("staff bonus line")
        verbose_name_plural = _("staff bonus lines")
        constraints = [
            models.UniqueConstraint(fields=["period", "staff"], name="uniq_bonus_line_staff"),
        ]

    def __str__(self) -> str:
        return f"{self.staff_name}: {self.bonus}"
