"""The owner's signed read-only links and every use of them."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..tokens import HashedToken
from .merchants import Merchant


class OwnerLink(HashedToken):
    """A read-only link to the owner's page (progress and Point B) that needs no password.
    Only the token's hash is kept; every opening is logged in `OwnerLinkUse`."""

    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, related_name="owner_links", verbose_name=_("merchant")
    )
    recipient = models.CharField(
        _("sent to"), max_length=254, blank=True, help_text=_("E-mail or a note: who has it.")
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("owner link")
        verbose_name_plural = _("owner links")
        indexes = [models.Index(fields=["merchant", "created_at"])]

    def __str__(self) -> str:
        return f"{self.merchant_id}: {self.recipient or self.pk}"


class OwnerLinkUse(models.Model):
    """One opening of an owner link (append-only)."""

    link = models.ForeignKey(
        OwnerLink, on_delete=models.CASCADE, related_name="uses", verbose_name=_("link")
    )
    used_at = models.DateTimeField(_("opened"), default=timezone.now)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)

    class Meta:
        ordering = ["-used_at", "-id"]
        verbose_name = _("owner link opening")
        verbose_name_plural = _("owner link openings")

    def __str__(self) -> str:
        return f"{self.link_id} @ {self.used_at:%Y-%m-%d %H:%M}"
