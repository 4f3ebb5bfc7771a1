"""The typed Point-B result and its snapshot JSON: what is stored loads back equal."""

import dataclasses
from datetime import date
from decimal import Decimal as D

from reports import metrics
from reports.metrics import point_b
from reports.models import ReportSnapshot
from reports.pointb import ClientLevel, PointB, RfmMonth, TierRow, load, to_json
from reports.rollup import reports_refresh

TODAY = date(2025, 3, 1)


def test_point_b_round_trips_through_json_to_an_equal_point_b(small_merchant):
    b = point_b(merchant=small_merchant, today=TODAY)
    assert isinstance(b, PointB)
    assert load(PointB, to_json(b)) == b


def test_snapshot_round_trips_and_gives_an_equal_point_b(small_merchant, monkeypatch):
    monkeypatch.setattr(metrics, "ROLLUP_MIN_PURCHASES", 0)
    day = date(2025, 2, 13)
    live = point_b(merchant=small_merchant, today=day, use_snapshot=False)
    snapshot = reports_refresh(merchant=small_merchant, today=day)
    stored = ReportSnapshot.objects.get(pk=snapshot.pk).clients
    clients = load(ClientLevel, stored)
    assert clients == metrics.client_level(
        small_merchant, metrics.default_period(small_merchant, today=day), today=day
    )
    assert to_json(clients) == stored
    rolled = point_b(merchant=small_merchant, today=day)
    assert rolled.data_source == "rollup"
    # Everything but where the figures came from is the live result.
    assert dataclasses.replace(rolled, data_source="live", snapshot_at=None) == live


def test_a_snapshot_in_the_old_dict_shape_still_loads(small_merchant, monkeypatch):
    """Snapshots written before the typed result: the same keys, no `counts` or `label`
    in the rows, and (older still) no RFM history or buyers per source."""
    old = {
        "contacts": 6,
        "imported": 2,
        "organic": 4,
        "members_total": 5,
        "buyers": 4,
        "regular_buyers": 1,
        "buyer_purchases": 5,
        "regular_purchases": 2,
        "buyer_revenue": "11800.00",
        "regular_revenue": "3000.00",
        "referral_clients": 2,
        "referral_buyers": 1,
        "referral_depth": 2,
        "referral_generations": [{"generation": 1, "clients": 1}],
        "tiers": [{"tier": "—", "position": 0, "clients": 6, "revenue": "0.00"}],
        "rfm": [],
        "rfm_history": [
            {"month": "2025-01-01", "as_of": "2025-01-31", "segments": {"new": 3}, "buyers": 3}
        ],
    }
    clients = load(ClientLevel, old)
    assert clients.buyer_revenue == D("11800.00")
    assert clients.tiers == (TierRow(tier="—", position=0, clients=6, revenue=D("0.00")),)
    assert clients.rfm_history == (
        RfmMonth(month=date(2025, 1, 1), as_of=date(2025, 1, 31), segments={"new": 3}, buyers=3),
    )
    assert clients.source_buyers == ()
    # The dashboard reads it as it did: the stored figures, RFM counts in segment order.
    monkeypatch.setattr(metrics, "ROLLUP_MIN_PURCHASES", 0)
    day = date(2025, 2, 13)
    reports_refresh(merchant=small_merchant, today=day)
    ReportSnapshot.objects.filter(merchant=small_merchant).update(clients=old)
    b = point_b(merchant=small_merchant, today=day)
    assert b.clients.regular_revenue_percent == D("25.42")
    assert b.rfm_history[0].counts[metrics.rfm.RFM_SEGMENTS.index("new")] == 3
    assert b.sources.source_buyers == ()
