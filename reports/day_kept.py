"""The day's purchases kept warm for the owners' dashboards (`reports.intraday`).

A large merchant's page adds the purchases recorded since the night to the kept figures; the
first view of a day (and the first after a refund or a channel change) reads them all — by
evening thousands, ≈ 0.2 s of the page. Every few minutes (`reports.tasks.keep_day`, scheduled
by the periodic task "Reports: keep the day's dashboard figures") each large merchant's default
page blocks — Point B, the branch table, the partners block, through `dashboard_blocks`, which
the view reads them with — are read once, which keeps what the settled purchases add in the cache; an
owner's view then reads only the purchases since. This needs a cache the web processes share
(`CACHE_URL` on Redis): with a per-process cache (`locmemcache://`, the default) the worker's
copy would help no page, and nothing is read."""

import logging

from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache

from onboarding.models import Merchant

from . import intraday, metrics
from .metrics import branch_breakdown, point_b
from .models import ReportSnapshot
from .partners import partner_summary

log = logging.getLogger(__name__)


def cache_is_shared() -> bool:
    """Whether what one process keeps, another reads (not a per-process or dummy cache)."""
    return not isinstance(caches["default"], LocMemCache | DummyCache)


DEFAULT_FILTERS = {"start": None, "end": None, "branch_id": None}


def dashboard_blocks(merchant: Merchant, filters: dict) -> dict:
    """The dashboard's blocks that add the day's purchases — Point B, the branch table (none
    for one branch), the partners block — for the page's `filters` (start, end, branch_id):
    the view reads them here, so the task keeps exactly what a view reads."""
    return {
        "b": point_b(merchant=merchant, **filters),
        "branch_rows": []
        if filters["branch_id"]
        else branch_breakdown(merchant=merchant, start=filters["start"], end=filters["end"]),
        "partners": partner_summary(
            merchant=merchant,
            start=filters["start"],
            end=filters["end"] or merchant.local_today(),
        ),
    }


def keep_day(merchant: Merchant) -> None:
    """Read the merchant's default blocks once (the marks once for all), keeping the day."""
    with intraday.one_view():
        dashboard_blocks(merchant, DEFAULT_FILTERS)


def keep_day_all(*, shared_only: bool = True) -> int:
    """`keep_day` for every merchant whose dashboard reads the night's figures; nothing when
    the cache is per process (unless `shared_only` is False). Returns the merchants read."""
    if shared_only and not cache_is_shared():
        log.info("reports: the cache is per process; the day is not kept ahead of the pages")
        return 0
    snapshots = (
        ReportSnapshot.objects.select_related("merchant")
        .defer("clients", "lift", "rfm_state", "members_state", "timings")
        .order_by("merchant_id")
    )
    merchants = [snap.merchant for snap in snapshots if metrics.snapshot_serves(snap)]
    done = 0
    for merchant in merchants:
        try:
            keep_day(merchant)
            done += 1
        except Exception:  # one merchant's failure must not stop the others
            log.exception("reports: keeping the day of merchant %s failed", merchant.pk)
    return done
