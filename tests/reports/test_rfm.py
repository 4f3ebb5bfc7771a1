from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from reports.rfm import SEGMENTS, client_scores, segment_client_ids, segment_summary
from tests.factories import ClientFactory, MerchantFactory

from .conftest import at

TODAY = date(2025, 6, 30)


def buyer(merchant, *, last_days_ago, count, spent, first_days_ago=None):
    last = at(TODAY - timedelta(days=last_days_ago))
    first = at(TODAY - timedelta(days=first_days_ago if first_days_ago else last_days_ago))
    return ClientFactory(
        merchant=merchant,
        joined_at=first,
        purchases_count=count,
        total_spent=D(spent),
        first_purchase_at=first,
        last_purchase_at=last,
    )


@pytest.fixture
def base(db):
    """Five buyers with distinct recency and spend: CUME_DIST gives 0.2 … 1.0, so R and M
    are 1 … 5 by rank; F is the purchase count (5 = five or more)."""
    m = MerchantFactory(slug="rfm")
    clients = {
        # name: (days since last, purchases, spent, days since first) → R, F, M, segment
        "champion": buyer(m, last_days_ago=1, count=6, spent=9000, first_days_ago=300),  # 5,5,5
        "newbie": buyer(m, last_days_ago=5, count=1, spent=100),  # R4 F1 M1, first 5 days ago
        "loyal": buyer(m, last_days_ago=40, count=2, spent=5000, first_days_ago=200),  # 3,2,4
        "at_risk": buyer(m, last_days_ago=200, count=3, spent=3000, first_days_ago=400),  # 2,3,3
        "lapsed": buyer(m, last_days_ago=400, count=1, spent=200),  # R1 F1 M2
    }
    clients["member"] = ClientFactory(merchant=m, joined_at=at(TODAY))  # no purchase
    ClientFactory(merchant=m)  # a contact only: in no segment
    other = MerchantFactory(slug="rfm-other")
    buyer(other, last_days_ago=1, count=9, spent=99999)
    return m, clients


def test_scores_by_hand(base):
    m, c = base
    scores = client_scores(merchant=m, today=TODAY)
    assert {k: (v["r"], v["f"], v["m"]) for k, v in scores.items()} == {
        c["champion"].pk: (5, 5, 5),
        c["newbie"].pk: (4, 1, 1),
        c["loyal"].pk: (3, 2, 4),
        c["at_risk"].pk: (2, 3, 3),
        c["lapsed"].pk: (1, 1, 2),
    }


def test_named_segments(base):
    m, c = base
    for name in ("champion", "loyal", "at_risk", "lapsed"):
        seg = "champions" if name == "champion" else name
        assert segment_client_ids(merchant=m, segment=seg, today=TODAY) == [c[name].pk]
    assert segment_client_ids(merchant=m, segment="new", today=TODAY) == [c["newbie"].pk]
    assert segment_client_ids(merchant=m, segment="no_purchase", today=TODAY) == [c["member"].pk]
    assert segment_client_ids(merchant=m, segment="promising", today=TODAY) == []
    # 60 days later the newbie is no longer new: one purchase, still R4 → promising
    later = TODAY + timedelta(days=60)
    assert segment_client_ids(merchant=m, segment="promising", today=later) == [c["newbie"].pk]
    with pytest.raises(ValueError, match="Unknown RFM segment"):
        segment_client_ids(merchant=m, segment="vip", today=TODAY)


def test_summary_counts_and_revenue(base):
    m, _c = base
    summary = {s["segment"]: s for s in segment_summary(merchant=m, today=TODAY)}
    assert list(summary) == list(SEGMENTS)
    assert summary["champions"]["clients"] == 1
    assert summary["champions"]["revenue"] == D("9000.00")
    # 9000 of 17 300 in total
    assert summary["champions"]["revenue_share"] == D("52.02")
    assert summary["no_purchase"]["clients"] == 1
    assert sum(s["clients"] for s in summary.values()) == 6


def test_single_buyer_is_not_lapsed(db):
    m = MerchantFactory(slug="one-buyer")
    only = buyer(m, last_days_ago=2, count=1, spent=50)
    assert client_scores(merchant=m, today=TODAY)[only.pk] == {
        "r": 5,
        "f": 1,
        "m": 5,
        "segment": "new",
    }
