"""Secret links and sessions kept as hashes: the person holds the token, we keep only its
SHA-256, an expiry and a revocation time. Card sessions (`cards`) and owner links
(`onboarding.owner_link`) share this pattern."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def token_new() -> str:
    """A fresh unguessable token (URL-safe, 43 characters)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored for a token: its SHA-256 hex digest."""
    return hashlib.sha256(token.encode()).hexdigest()


class HashedToken(models.Model):
    """A token stored as its hash, live until it expires or is revoked."""

    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        abstract = True

    def is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now
