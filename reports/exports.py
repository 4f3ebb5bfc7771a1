"""Dashboard and segment exports (XLSX, CSV). Text that a spreadsheet would read as a
formula (starting with = + - @, or a tab/CR) gets a leading ', and no cell is a formula."""

import io
from datetime import date, datetime
from decimal import Decimal

import xlsxwriter
from django.utils.translation import gettext_lazy as _

from crm.exporting import csv_cell, escape_cell, spreadsheet_csv_writer
from crm.models import Client
from onboarding.models import Merchant

from .pointb import PointB
from .rfm import RFM_SEGMENTS, segment_client_ids

SEGMENT_COLUMNS = [
    ("phone", _("Phone")),
    ("full_name", _("Name")),
    ("email", _("E-mail")),
    ("purchases_count", _("Purchases")),
    ("total_spent", _("Total spent")),
    ("last_purchase_at", _("Last purchase")),
    ("balance", _("Balance, points")),
]


def _plain(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")  # callers pass local times
    if isinstance(value, date):
        return value.isoformat()
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    return escape_cell(str(value))


class _Book:
    def __init__(self, constant_memory: bool = False):
        self.buffer = io.BytesIO()
        self.book = xlsxwriter.Workbook(
            self.buffer,
            {
                "in_memory": not constant_memory,
                "constant_memory": constant_memory,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self.bold = self.book.add_format({"bold": True})

    def sheet(self, name: str, header: list[str], rows) -> None:
        ws = self.book.add_worksheet(name[:31])
        for col, title in enumerate(header):
            ws.write_string(0, col, escape_cell(str(title)), self.bold)
        for r, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                value = _plain(value)
                if isinstance(value, str):
                    ws.write_string(r, col, value)
                elif isinstance(value, bool):
                    ws.write_boolean(r, col, value)
                else:
                    ws.write_number(r, col, value)
        ws.set_column(0, 0, 34)
        ws.set_column(1, max(len(header) - 1, 1), 16)

    def close(self) -> bytes:
        self.book.close()
        return self.buffer.getvalue()


# The "Point B" sheet's rows: (group of `PointB`, figure), named by the figure.
HEADLINE = [
    ("clients", "contacts"), ("clients", "imported"), ("clients", "organic"),
    ("clients", "members"), ("clients", "members_percent"), ("clients", "buyers"),
    ("clients", "buyers_percent"), ("sales", "card_purchases"), ("sales", "by_phone"),
    ("sales", "by_phone_percent"), ("sales", "card_revenue"), ("sales", "points_redeemed"),
    ("sales", "actual_discount_percent"), ("clients", "purchases_per_buyer"),
    ("clients", "regular_buyers"), ("clients", "regular_buyers_percent"),
    ("clients", "purchases_per_regular"), ("clients", "regular_revenue_percent"),
    ("sales", "nocard_purchases"), ("sales", "nocard_revenue"), ("sales", "average_check_card"),
    ("sales", "average_check_nocard"), ("sales", "card_check_uplift_percent"),
    ("referrals", "referral_clients"), ("referrals", "referral_buyers"),
    ("referrals", "referral_depth"), ("feedback", "ratings"), ("feedback", "rating_average"),
    ("feedback", "reviews"), ("certificates", "certificates_issued"),
    ("certificates", "certificate_purchases"), ("certificates", "certificate_revenue"),
    ("sources", "referral_revenue"), ("sources", "platform_revenue"),
    ("sources", "sources_revenue"), ("sources", "partner_revenue"),
    ("benefit", "previous_discount_percent"), ("benefit", "saving"),
]  # fmt: skip


def dashboard_xlsx(*, point_b: PointB) -> bytes:
    """The dashboard's figures as a workbook: one sheet per block."""
    book = _Book()
    b = point_b
    headline = [
        ("merchant", b.merchant.name),
        ("period_start", b.period.start),
        ("period_end", b.period.end),
        *((name, getattr(getattr(b, group), name)) for group, name in HEADLINE),
        ("economic_benefit", b.benefit.total),
        *((f.key, f.value) for f in b.extra),
    ]
    book.sheet("Point B", ["metric", "value"], headline)
    book.sheet(
        "Benefit",
        ["component", "included", "revenue", "share %", "amount"],
        ((c.label, c.included, c.revenue, c.share_percent, c.amount) for c in b.benefit.components),
    )
    book.sheet(
        "Months",
        ["month", "members", "card purchases", "card revenue", "actual discount %"],
        ((m.month, m.members, m.purchases, m.revenue, m.actual_discount_percent) for m in b.months),
    )
    book.sheet(
        "Sources",
        ["channel", "members", "card purchases", "revenue"],
        ((c.label, c.members, c.purchases, c.revenue) for c in b.sources.channels),
    )
    book.sheet(
        "Promo codes & partners",
        ["kind", "name", "purchases", "revenue"],
        [("promo code", r.name, r.purchases, r.revenue)
         for r in b.sources.revenue_by_promo_code]
        + [("partner", r.name, r.purchases, r.revenue)
           for r in b.sources.revenue_by_partner],
    )  # fmt: skip
    book.sheet(
        "Tiers",
        ["tier", "clients", "total spent"],
        ((t.tier, t.clients, t.revenue) for t in b.tiers),
    )
    book.sheet(
        "RFM",
        ["segment", "clients", "revenue", "revenue %", "avg R", "avg F", "avg M"],
        (
            (s.label, s.clients, s.revenue, s.revenue_share, s.avg_r, s.avg_f,
             s.avg_m)
            for s in b.rfm
        ),
    )  # fmt: skip
    book.sheet(
        "Buyers per source",
        ["channel", "source detail", "joined", "bought", "revenue"],
        (
            (r.label, r.source_detail, r.members, r.buyers, r.revenue)
            for r in b.sources.source_buyers
        ),
    )
    gifts = b.gift_returns
    book.sheet(
        "Gift returns",
        ["campaign", "clients gifted", "came back", "purchases", "revenue"],
        [("(all)", gifts.gifted, gifts.clients, gifts.purchases, gifts.revenue)]
        + [(c.campaign, c.gifted, c.clients, c.purchases, c.revenue)
           for c in gifts.campaigns],
    )  # fmt: skip
    book.sheet(
        "RFM by month",
        ["month", *RFM_SEGMENTS, "buyers"],
        ((h.month, *h.counts, h.buyers) for h in b.rfm_history),
    )
    book.sheet(
        "Campaigns",
        ["campaign", "kind", "rewards", "points", "certificates", "redeemed", "revenue"],
        (
            (c.campaign, c.kind, c.rewards, c.points, c.certificates,
             c.redeemed, c.revenue)
            for c in b.campaigns
        ),
    )  # fmt: skip
    return book.close()


def segment_rows(*, merchant: Merchant, segment: str, today: date, chunk: int = 5000):
    """Rows of a segment's clients, read in id chunks (one query per chunk); times are the
    merchant's local time, text that looks like a formula is escaped."""
    ids = segment_client_ids(merchant=merchant, segment=segment, today=today)
    fields = [f for f, _t in SEGMENT_COLUMNS]
    zone = merchant.tzinfo
    for i in range(0, len(ids), chunk):
        part = ids[i : i + chunk]
        for row in (
            Client.objects.filter(merchant=merchant, pk__in=part)
            .order_by("pk")
            .values_list(*fields)
        ):
            yield [v.astimezone(zone) if isinstance(v, datetime) else escape_cell(v) for v in row]


def segment_csv(*, merchant: Merchant, segment: str, today: date) -> str:
    """The segment's clients as a CSV that opens as a table in a spreadsheet of the UI
    language (see `crm.exporting.csv_dialect`)."""
    out = io.StringIO()
    writer, decimal_mark = spreadsheet_csv_writer(out)
    writer.writerow([str(t) for _f, t in SEGMENT_COLUMNS])
    for row in segment_rows(merchant=merchant, segment=segment, today=today):
        writer.writerow([csv_cell(v, decimal_mark=decimal_mark) for v in row])
    return out.getvalue()


def segment_xlsx(*, merchant: Merchant, segment: str, today: date) -> bytes:
    book = _Book(constant_memory=True)
    book.sheet(
        segment,
        [str(t) for _f, t in SEGMENT_COLUMNS],
        segment_rows(merchant=merchant, segment=segment, today=today),
    )
    return book.close()
