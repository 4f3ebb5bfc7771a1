"""Partner certificates (cross-marketing): a batch of N single-use codes for a named partner
business. A code redeemed on the join page or at the till enrols its holder (source
"partner", detail = the partner's name) and gives the batch's certificate through the
campaign engine, so the certificate, its outbox message and the reports behave like any
other campaign's."""

import csv
import io
import secrets
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.exporting import escape_cell
from crm.models import Client, ClientSource
from loyalty.campaigns.issuance import issue_rewards
from loyalty.models import Campaign, CampaignKind, Certificate, Channel, RewardForm
from loyalty.services.members import client_join
from loyalty.tasks import enqueue_deliveries
from onboarding.models import Merchant

from .errors import CardError
from .models import PartnerBatch, PartnerCode

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: codes are typed from paper
CODE_LENGTH = 8
MAX_BATCH = 100_000


def normalize_code(text: str) -> str:
    return "".join(ch for ch in (text or "").upper() if ch.isalnum())


def partner_batch_create(
    *,
    merchant: Merchant,
    partner_name: str,
    size: int,
    points: Decimal,
    valid_days: int,
    redemption_cap_percent: Decimal = Decimal(100),
    created_by=None,
) -> PartnerBatch:
    """Create a batch of `size` unique codes and the partner-certificate campaign behind it
    (certificate of `points`, valid `valid_days` from redemption)."""
    name = (partner_name or "").strip()
    if not name:
        raise CardError(_("Name the partner business."))
    if not 1 <= int(size) <= MAX_BATCH:
        raise CardError(_("A batch holds from 1 to %(max)s codes.") % {"max": MAX_BATCH})
    if Decimal(points) <= 0:
        raise CardError(_("The certificate must be worth more than zero points."))
    if not 1 <= int(valid_days) <= 3650:
        raise CardError(_("The certificate must be valid from 1 to 3650 days."))
    if not 0 <= Decimal(redemption_cap_percent) <= 100:
        raise CardError(_("The redemption cap is a percentage from 0 to 100."))
    with transaction.atomic():
        campaign = Campaign.objects.create(
            merchant=merchant,
            kind=CampaignKind.PARTNER_CERTIFICATE,
            name=_("Partner: %(name)s") % {"name": name},
            reward_form=RewardForm.CERTIFICATE,
            reward_points=Decimal(points),
            certificate_valid_days=int(valid_days),
            redemption_cap_percent=Decimal(redemption_cap_percent),
            partner_name=name,
            certificates_count=int(size),
            channel=Channel.CONSOLE,
        )
        batch = PartnerBatch.objects.create(
            merchant=merchant,
            partner_name=name[:100],
            campaign=campaign,
            size=int(size),
            created_by=created_by,
        )
        taken = set(PartnerCode.objects.filter(merchant=merchant).values_list("code", flat=True))
        codes: set[str] = set()
        while len(codes) < int(size):
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if code not in taken:
                codes.add(code)
        PartnerCode.objects.bulk_create(
            [PartnerCode(batch=batch, merchant=merchant, code=c) for c in sorted(codes)],
            batch_size=2000,
        )
    return batch


def partner_code_find(*, merchant: Merchant, code: str) -> PartnerCode:
    """The merchant's unused code, or CardError saying why not."""
    row = (
        PartnerCode.objects.select_related("batch")
        .filter(merchant=merchant, code=normalize_code(code))
        .first()
    )
    if row is None:
        raise CardError(_("No such partner certificate code."))
    if row.redeemed_at is not None:
        raise CardError(_("This partner certificate code has already been used."))
    return row


def partner_code_redeem(*, merchant: Merchant, code: str, client: Client, via: str) -> Certificate:
    """Spend `code` for `client` and give the batch's certificate. Single use: of two
    concurrent redemptions exactly one wins; a client gets one certificate per batch."""
    if client.merchant_id != merchant.pk:
        raise CardError(_("The client belongs to another merchant."))
    row = partner_code_find(merchant=merchant, code=code)
    batch = row.batch
    with transaction.atomic():
        if PartnerCode.objects.filter(batch=batch, redeemed_by=client).exists():
            raise CardError(_("You already have this partner's certificate."))
        now = timezone.now()
        won = PartnerCode.objects.filter(pk=row.pk, redeemed_at__isnull=True).update(
            redeemed_at=now, redeemed_by=client, redeemed_via=via[:16]
        )
        if not won:
            raise CardError(_("This partner certificate code has already been used."))
        campaign = batch.campaign
        outcome = issue_rewards(
            campaign=campaign,
            items=[(client.pk, f"partner-batch:{batch.pk}")],
            moment=now,
            merchant_name=merchant.name,
            tzinfo=merchant.tzinfo,
        )
        if not outcome.certificates:
            # The issuance key (campaign, client, batch) was taken by a parallel redemption.
            raise CardError(_("You already have this partner's certificate."))
        certificate = (
            Certificate.objects.filter(campaign=campaign, client=client).order_by("-pk").first()
        )
        PartnerCode.objects.filter(pk=row.pk).update(certificate=certificate)
        if outcome.message_ids:
            enqueue_deliveries(outcome.message_ids)
    return certificate


def partner_enrol_at_till(
    *, merchant: Merchant, phone: str, code: str, full_name: str = ""
) -> tuple[Client, Certificate]:
    """The till's path: find or register the client by E.164 phone (a new one with source
    partner), make them a member and redeem the code — all or nothing."""
    row = partner_code_find(merchant=merchant, code=code)
    with transaction.atomic():
        client = Client.objects.filter(merchant=merchant, phone=phone).first()
        if client is None:
            client = Client.objects.create(
                merchant=merchant,
                phone=phone,
                full_name=full_name.strip()[:200],
                source=ClientSource.PARTNER,
                source_detail=row.batch.partner_name[:120],
            )
        client = client_join(merchant=merchant, client=client).client
        certificate = partner_code_redeem(
            merchant=merchant, code=row.code, client=client, via="till"
        )
    return client, certificate


def partner_codes_csv(*, batch: PartnerBatch) -> str:
    """The batch as CSV (code, status, redeemed at, client phone), every cell escaped
    against spreadsheet formulas."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [escape_cell(h) for h in (_("partner"), _("code"), _("redeemed"), _("client phone"))]
    )
    rows = batch.codes.select_related("redeemed_by").order_by("pk")
    for row in rows.iterator(chunk_size=2000):
        writer.writerow(
            [
                escape_cell(batch.partner_name),
                escape_cell(row.code),
                row.redeemed_at.astimezone(batch.merchant.tzinfo).strftime("%Y-%m-%d %H:%M")
                if row.redeemed_at
                else "",
                # E.164 (+ and digits) is never read as a formula: written as is.
                row.redeemed_by.phone if row.redeemed_by else "",
            ]
        )
    return out.getvalue()
