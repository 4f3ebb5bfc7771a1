"""Certificates at the till: which ones a client may use now, and the checks before use."""

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.models import Certificate

from .errors import CertificateError


def certificate_check(*, certificate: Certificate, client, at: datetime | None = None) -> None:
    """Raise CertificateError unless the certificate is the client's, active and valid at `at`."""
    at = at or timezone.now()
    if certificate.client_id != client.pk or certificate.merchant_id != client.merchant_id:
        raise CertificateError(_("This certificate belongs to another client."))
    if certificate.status != Certificate.Status.ACTIVE:
        raise CertificateError(
            _("The certificate is %(status)s.") % {"status": certificate.get_status_display()}
        )
    if at < certificate.issued_at or at > certificate.valid_until:
        raise CertificateError(
            _("The certificate is valid from %(start)s to %(end)s.")
            % {
                "start": timezone.localtime(certificate.issued_at).strftime("%d.%m.%Y"),
                "end": timezone.localtime(certificate.valid_until).strftime("%d.%m.%Y"),
            }
        )


def certificates_active(*, client, at: datetime | None = None):
    """The client's certificates usable at `at`, soonest to expire first."""
    at = at or timezone.now()
    return Certificate.objects.filter(
        client=client,
        status=Certificate.Status.ACTIVE,
        issued_at__lte=at,
        valid_until__gte=at,
    ).order_by("valid_until", "pk")
