"""Owner dashboard, partner portfolio, exports and the case-study page.

Every page finds its merchant through `onboarding.access.dashboard_merchants`, so another
merchant's slug is a 404 whatever the role."""

import hashlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from cards.selectors import card_stats
from loyalty.channels.selectors import channel_figures
from loyalty.models import Channel
from onboarding import roles
from onboarding.access import cashier_merchant, dashboard_merchants, has_role
from onboarding.params import day_param, int_param

from . import charts, exports, intraday, rfm
from .aggregates import Period
from .casestudy import case_study_html
from .day_kept import dashboard_blocks
from .lift import lift_context
from .metrics import point_b
from .portfolio import PORTFOLIO_COLUMNS, portfolio_rows
from .replica import reads_from_replica
from .rfm import SEGMENTS

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _merchant(request, slug):
    return get_object_or_404(dashboard_merchants(request.user), slug=slug)


def _filters(request, merchant) -> dict:
    """start/end (ISO dates) and branch from the query string; bad values are dropped."""
    out = {"start": None, "end": None, "branch_id": None}
    for key in ("start", "end"):
        raw = request.GET.get(key, "").strip()
        if raw:
            out[key] = day_param(raw)
            if out[key] is None:
                messages.error(
                    request, _("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": raw}
                )
    raw = request.GET.get("branch", "").strip()
    if raw:
        branch_id = int_param(raw)
        if branch_id and merchant.branches.filter(pk=branch_id).exists():
            out["branch_id"] = branch_id
        else:
            messages.error(request, _("Unknown branch."))
    if out["start"] and out["end"] and out["start"] > out["end"]:
        messages.error(request, _("The period starts after it ends; showing since launch."))
        out["start"] = out["end"] = None
    return out


def _channel_rows(merchant, filters) -> dict:
    """Linked Telegram clients, web push subscribers and, per channel, the campaign messages
    of the period and the share the channel itself delivered (inbox-only ones count as not)."""
    since, until = Period(
        start=filters["start"], end=filters["end"] or merchant.local_today()
    ).bounds(merchant)
    figures = channel_figures(merchant=merchant, since=since, until=until)
    rows = []
    for row in figures["channels"]:
        rate = row.delivery_rate
        rows.append(
            {
                "channel": row.channel,
                "label": Channel(row.channel).label
                if row.channel in Channel.values
                else row.channel,
                "messages": row.attempted + row.pending,
                "sent": row.sent,
                "failed": row.failed,
                "inbox_only": row.inbox_only,
                "pending": row.pending,
                "rate": None if rate is None else round(rate * 100),
            }
        )
    return {
        "telegram_linked": figures["telegram_linked"],
        "webpush_clients": figures["webpush_clients"],
        "rows": rows,
    }


@login_required
@require_GET
@reads_from_replica
def portfolio(request):
    """All merchants the user may see, one row each, sortable by any column."""
    merchants = dashboard_merchants(request.user).order_by("name")
    till = cashier_merchant(request.user)
    if till is not None and not merchants.exists():
        return redirect("loyalty:cashier", slug=till.slug)  # a cashier's place is the till
    if has_role(request.user, roles.OWNER) and not request.user.is_staff and len(merchants) == 1:
        return redirect("reports:dashboard", slug=merchants[0].slug)
    sort = request.GET.get("sort", "name")
    if sort not in PORTFOLIO_COLUMNS:
        sort = "name"
    descending = request.GET.get("dir") == "desc"
    rows = portfolio_rows(merchants=merchants, sort=sort, descending=descending)
    return render(
        request,
        "reports/portfolio.html",
        {"rows": rows, "sort": sort, "descending": descending, "columns": PORTFOLIO_COLUMNS},
    )


def _rfm_key(merchant, b) -> str | None:
    """The cache key of the RFM panels' rendering (`reports/_rfm.html`): a digest of what they
    show — the figures, the merchant's slug and currency, the language — for the default
    period's figures, which the nightly snapshot holds; None (rendered each time) otherwise."""
    if not (b.period.default and b.data_source == "rollup"):
        return None
    shown = (
        merchant.slug,
        merchant.currency,
        get_language(),
        b.rfm,
        [(h.month, h.as_of, h.buyers, h.counts) for h in b.rfm_history],
    )
    return hashlib.sha1(repr(shown).encode()).hexdigest()


@login_required
@require_GET
@reads_from_replica
@intraday.one_view()
def dashboard(request, slug):
    merchant = _merchant(request, slug)
    filters = _filters(request, merchant)
    blocks = dashboard_blocks(merchant, filters)
    b = blocks["b"]
    months = b.months
    label = lambda m: m.month.strftime("%m.%y")  # noqa: E731
    chart = {
        "members": charts.column_chart([(label(m), m.members) for m in months],
                                       title=_("Members by month")),
        "purchases": charts.column_chart([(label(m), m.purchases) for m in months],
                                         title=_("Card purchases by month")),
        "revenue": charts.column_chart([(label(m), m.revenue) for m in months],
                                       title=_("Card revenue by month")),
        "discount": charts.column_chart(
            [(label(m), m.actual_discount_percent) for m in months],
            title=_("Actual discount by month"), suffix="%"),
        "sources": charts.hbar_chart([(c.label, c.revenue) for c in b.sources.channels],
                                     title=_("Revenue by source")),
        "source_members": charts.hbar_chart([(c.label, c.members) for c in b.sources.channels],
                                            title=_("Members by source")),
        "tiers": charts.hbar_chart([(t.tier, t.clients) for t in b.tiers],
                                   title=_("Clients by tier")),
        "referrals": charts.hbar_chart(
            [(_("Generation %(n)s") % {"n": g.generation}, g.clients)
             for g in b.referrals.referral_generations],
            title=_("Referral tree")),
        "rfm": charts.hbar_chart([(s.label, s.clients) for s in b.rfm],
                                 title=_("RFM segments")),
    }  # fmt: skip
    context = {
        "merchant": merchant,
        "b": b,
        "chart": chart,
        "rfm_labels": [str(rfm.SEGMENTS[key]) for key in rfm.RFM_SEGMENTS],
        "rfm_key": _rfm_key(merchant, b),
        "filters": filters,
        "branches": merchant.branches.order_by("name"),
        "branch_rows": blocks["branch_rows"],
        "cards": card_stats(merchant=merchant, start=filters["start"], end=filters["end"]),
        "channels": _channel_rows(merchant, filters),
        "partners": blocks["partners"],
        "lift": lift_context(merchant=merchant),
        "query": request.GET.urlencode(),
        "can_see_portfolio": len(dashboard_merchants(request.user)[:2]) > 1,
    }
    return render(request, "reports/dashboard.html", context)


@login_required
@require_GET
@reads_from_replica
def dashboard_xlsx(request, slug):
    merchant = _merchant(request, slug)
    b = point_b(merchant=merchant, **_filters(request, merchant))
    response = HttpResponse(exports.dashboard_xlsx(point_b=b), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{merchant.slug}-point-b.xlsx"'
    return response


@login_required
@require_GET
@reads_from_replica
def segment_export(request, slug, segment, fmt):
    merchant = _merchant(request, slug)
    if segment not in SEGMENTS or fmt not in ("csv", "xlsx"):
        raise Http404
    today = merchant.local_today()
    name = f"{merchant.slug}-{segment}-{today.isoformat()}.{fmt}"
    if fmt == "csv":
        body = exports.segment_csv(merchant=merchant, segment=segment, today=today)
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    else:
        body = exports.segment_xlsx(merchant=merchant, segment=segment, today=today)
        response = HttpResponse(body, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
@require_GET
@reads_from_replica
def case_study(request, slug):
    merchant = _merchant(request, slug)
    return HttpResponse(case_study_html(merchant=merchant, request=request))
