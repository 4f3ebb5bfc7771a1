"""The day's purchases kept warm for the owners' dashboards (`reports.intraday`).

A large merchant's page adds the purchases recorded since the night to the kept figures; the
first view of a day (and the first after a refund or a channel change) reads them all — by
evening thousands, ≈ 0.2 s of the page. Every few minutes (`reports.tasks.keep_day`, scheduled
by the periodic task "Reports: keep the day's dashboard figures") each large merchant's default
page blocks — Point B, the branch table, the partners block, called exactly as the dashboard
calls them — are read once, which keeps what the settled purchases add in the cache; an
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
from .partners import partner_summary

log = logging.getLogger(__name__)


def cache_is_shared() -> bool:
    """Whether what one process keeps, another reads (not a per-process or dummy cache)."""
    return not isinstance(caches["default"], LocMemCache | DummyCache)


def default_blocks(merchant: Merchant) -> dict:
    """The dashboard's blocks that add the day's purchases, for the default filters (the view
    calls them with these arguments; `reports.views.dashboard`)."""
    return {
        "b": point_b(merchant=merchant, start=None, end=None, branch_id=None),
        "branch_rows": branch_breakdown(merchant=merchant, start=None, end=None),
        "partners": partner_summary(merchant=merchant, start=None, end=merchant.local_today()),
    }


def keep_day(merchant: Merchant) -> None:
    """Read the merchant's default blocks once (the marks once for all), keeping the day."""
    with intraday.one_view():
        default_blocks(merchant)


def keep_day_all(*, shared_only: bool = True) -> int:
    """`keep_day` for every merchant whose dashboard reads the night's figures; nothing when
    the cache is per process (unless `shared_only` is False). Returns the merchants read."""
    if shared_only and not cache_is_shared():
        log.info("reports: the cache is per process; the day is not kept ahead of the pages")
        return 0
    merchants = Merchant.objects.filter(
        report_snapshot__rollup_through__isnull=False,
        report_snapshot__purchases_total__gte=metrics.ROLLUP_MIN_PURCHASES,
    ).order_by("pk")
    done = 0
    for merchant in merchants:
        try:
            keep_day(merchant)
            done += 1
        except Exception:  # one merchant's failure must not stop the others
            log.exception("reports: keeping the day of merchant %s failed", merchant.pk)
    return done
