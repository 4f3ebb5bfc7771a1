"""Cross-marketing partners on the owner dashboard: clients each partner brought (source
"partner", detail = the partner's name, whatever their referrer) and their card purchases in
the period.

A large merchant's block is read from the figures the nightly refresh keeps
(`reports.partner_figures`) when they serve the period — it starts before none of the kept
partner clients' purchases (the default, since the first record, always) — with the purchases
recorded since the refresh's mark added, and computed live for the clients otherwise changed
since (refunds, changed channel keys, new clients) and for those with a purchase after the
period's end. Any other period, and a merchant without kept figures, is computed live; both
give the same figures."""

from datetime import date, datetime

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce

from crm.models import Client, ClientSource
from loyalty.models import Purchase
from onboarding.models import Merchant
from onboarding.money import ZERO, q

from . import intraday, metrics
from .aggregates import Period
from .models import PartnerClient
from .partner_figures import (
    added_per_client,
    added_totals,
    changed_client_ids,
    figures_in_step,
    kept,
    partner_name,
    per_client_merge,
    rows_totals,
    totals_load,
    totals_merge,
)

# More clients changed since the refresh than this: the block is computed live.
STORED_MAX_CHANGED = 20_000


def partner_summary(*, merchant: Merchant, start: date | None, end: date) -> list[dict]:
    """[{name, clients, joined, buyers, purchases, revenue}] per partner name, most clients
    first; clients and joined as of now, buyers, purchases and revenue = Σ(amount − refunded)
    of those clients' kept card purchases in [start, end]."""
    since, until = Period(start=start, end=end).bounds(merchant)
    totals = stored_totals(merchant, since, until)
    if totals is None:
        totals = live_totals(merchant, since, until)
    rows = [
        {
            "name": name,
            "clients": t[0],
            "joined": t[1],
            "buyers": t[2],
            "purchases": t[3],
            "revenue": q(t[4]),
        }
        for name, t in totals.items()
        if t[0] > 0
    ]
    return sorted(rows, key=lambda r: (-r["clients"], r["name"]))


def live_totals(merchant: Merchant, since: datetime | None, until: datetime) -> dict:
    """{name: [clients, joined, buyers, purchases, revenue]} from every partner client and
    their purchases."""
    clients = Client.objects.filter(merchant=merchant, source=ClientSource.PARTNER)
    purchases = _purchases(merchant, since, until).filter(client__source=ClientSource.PARTNER)
    totals: dict = {}
    for r in clients.values("source_detail").annotate(
        n=Count("pk"), joined=Count("pk", filter=Q(joined_at__isnull=False))
    ):
        t = totals.setdefault(partner_name(r["source_detail"]), [0, 0, 0, 0, ZERO])
        t[0] += r["n"]
        t[1] += r["joined"]
    if not totals:
        return totals
    sales = purchases.values("client__source_detail").annotate(
        purchases=Count("pk"),
        buyers=Count("client_id", distinct=True),
        revenue=Coalesce(Sum(F("amount") - F("refunded_amount")), ZERO),
    )
    for r in sales:
        t = totals.setdefault(partner_name(r["client__source_detail"]), [0, 0, 0, 0, ZERO])
        t[2] += r["buyers"]
        t[3] += r["purchases"]
        t[4] += r["revenue"]
    return totals


def live_totals_of(merchant: Merchant, since: datetime | None, until: datetime, ids) -> dict:
    """`live_totals` of the clients `ids` only: they are looked up by key, then the partner
    clients' purchases through the purchases' client index (no join with the clients)."""
    # by key alone (see `partner_figures.fold`); other merchants' and sources' dropped here
    clients = Client.objects.filter(pk__in=ids).values_list(
        "pk", "merchant_id", "source", "source_detail", "joined_at"
    )
    names: dict = {}
    totals: dict = {}
    for pk, merchant_id, source, detail, joined_at in clients:
        if merchant_id != merchant.pk or source != ClientSource.PARTNER:
            continue
        names[pk] = t = totals.setdefault(partner_name(detail), [0, 0, 0, 0, ZERO])
        t[0] += 1
        t[1] += joined_at is not None
    if not names:
        return totals
    sales = (
        _purchases(merchant, since, until)
        .filter(client_id__in=list(names))
        .values_list("client_id")
        .annotate(n=Count("pk"), revenue=Sum(F("amount") - F("refunded_amount")))
    )
    for client_id, n, revenue in sales:
        t = names[client_id]
        t[2] += 1
        t[3] += n
        t[4] += revenue
    return totals


def _purchases(merchant: Merchant, since: datetime | None, until: datetime):
    """The merchant's kept purchases in [since, until)."""
    purchases = Purchase.objects.filter(kept(), merchant=merchant, occurred_at__lt=until)
    return purchases.filter(occurred_at__gte=since) if since is not None else purchases


def stored_totals(merchant: Merchant, since: datetime | None, until: datetime) -> dict | None:
    """The kept figures with the purchases recorded since added and the clients otherwise
    changed since computed live, or None when they do not serve the period (no kept figures in
    step with the snapshot, a kept purchase before its start, too many clients to correct)."""
    figures = figures_in_step(merchant, min_purchases=metrics.ROLLUP_MIN_PURCHASES)
    if figures is None:
        return None
    rows = PartnerClient.objects.filter(merchant=merchant)
    if since is not None and rows.filter(first_at__lt=since).exists():
        return None
    ids = changed_client_ids(
        merchant,
        # rows folded before they stopped at the mark: the buyers since are computed live
        purchases_after=None if figures.to_mark else figures.purchases_seen_id,
        refunds_after=figures.refunds_seen_id,
        clients_after=figures.clients_seen_id,
        also=rows.filter(last_at__gte=until),
    )
    if len(ids) > STORED_MAX_CHANGED:
        return None
    totals = totals_load(figures.partners)
    if ids:
        kept_rows = PartnerClient.objects.filter(client_id__in=ids, merchant=merchant)
        totals_merge(totals, rows_totals(kept_rows), -1)
        totals_merge(totals, live_totals_of(merchant, since, until, list(ids)))
    if not figures.to_mark:
        return totals
    # the kept purchases of the period recorded since the mark, added to their buyers' rows;
    # what a view read of them is kept for the next (`reports.intraday`)
    period = _purchases(merchant, since, until)

    def read(above: int | None, upto: int | None) -> dict:
        later = period.filter(pk__gt=figures.purchases_seen_id if above is None else above)
        return added_per_client(merchant, later if upto is None else later.filter(pk__lte=upto))

    per_client = intraday.added(
        merchant.pk,
        intraday.night_of(figures, figures.snapshot_at),
        f"partners:{since}:{until}",
        read,
        per_client_merge,
    )
    return totals_merge(totals, added_totals(per_client, skip=ids))
