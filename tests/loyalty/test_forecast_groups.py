"""The forecast replays members in two fixed groups (a referral family in one), the second in a
forked process on a large history: the figures are the same whichever way the groups run, a
failed forked process is replaced by a replay here, and the forked process cannot query."""

import os
from datetime import date
from decimal import Decimal as D

import pytest

from crm.models import Client
from loyalty.forecast import groups
from loyalty.forecast.drafts import draft_save
from loyalty.forecast.models import ProgramDraft
from loyalty.forecast.service import _history_rows, forecast_run, forecast_window
from loyalty.models import Purchase
from tests.loyalty.test_forecast_golden import TODAY, A, B, seed

pytestmark = pytest.mark.django_db

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="the platform has no fork")


def test_families_group_by_their_smallest_client_id():
    # 7 ← 5 ← 3 (3 referred by 5, 5 by 7); 9 ← 8; 4 is in no chain.
    chains = {3: [5, 7], 5: [7], 8: [9]}
    assert groups.family_roots(chains) == {5: 3, 7: 3, 9: 8}
    # a family joined late through a second chain keeps one root: the smallest id
    assert groups.family_roots({6: [10], 2: [10]}) == {6: 2, 10: 2}


def test_a_referral_family_replays_in_one_group():
    # 3, 4, 5: one family (number 0: 3 is the merchant's first client); 6, 7 alone
    families = groups.family_numbers([3, 4, 5, 6, 7], {3: [4], 4: [5]})
    assert families == {3: 0, 4: 0, 5: 0, 6: 3, 7: 4}
    rows = [(cid, date(2026, 1, 1), D(100), D(0), "card") for cid in (3, 4, 5, 6, 7, None)]
    history = groups.History(rows, families)
    members = {n: list(g.clients) for n, g in enumerate(history.groups)}
    family = groups.group_of(0)
    assert [c for c in members[family] if c in (3, 4, 5)] == [3, 4, 5]
    assert groups.NO_CLIENT in members[0]  # checks without a client count in the first group
    for cid, number in ((6, 3), (7, 4)):
        assert cid in members[groups.group_of(number)]
    assert len(history) == 6


def test_families_are_numbered_by_id_order_not_by_id_values():
    """The groups, and so the figures, must not change with the values a database gave the
    ids (PostgreSQL's sequences move on across rolled-back tests and between databases)."""
    ids = [10, 11, 12, 13, 14, 15]
    chains = {11: [10], 14: [12, 10], 12: [10]}
    shifted = {cid + 7_000: [a + 7_000 for a in chain] for cid, chain in chains.items()}
    here = groups.family_numbers(ids, chains)
    there = groups.family_numbers([cid + 7_000 for cid in ids], shifted)
    assert [here[cid] for cid in ids] == [there[cid + 7_000] for cid in ids] == [0, 0, 0, 3, 0, 5]


def test_groups_split_families_two_fifths_to_three_fifths_whatever_the_ids():
    for ids in (range(1, 50_001), range(5, 250_000, 5), range(1_000, 560_000, 11)):
        first = sum(1 for cid in ids if groups.group_of(cid) == 0)
        assert abs(first / len(ids) - 0.4) < 0.01


def _forecast(merchant, monkeypatch, minimum):
    monkeypatch.setattr(groups, "PARALLEL_MIN_CHECKS", minimum)
    drafts = list(ProgramDraft.objects.filter(merchant=merchant).order_by("name")) or [
        draft_save(merchant=merchant, name="A", settings=A),
        draft_save(merchant=merchant, name="B", settings=B, redeem_share_percent=80),
    ]
    return forecast_run(merchant=merchant, drafts=drafts, months=12, today=TODAY)


@needs_fork
def test_forked_and_sequential_groups_give_the_same_figures(monkeypatch):
    merchant = seed("Europe/Moscow", purchases=600, clients=60)
    forked_before = []
    real_fork = groups._fork
    monkeypatch.setattr(groups, "_fork", lambda work: forked_before.append(1) or real_fork(work))
    monkeypatch.setattr(groups.os, "cpu_count", lambda: 2)

    forked = _forecast(merchant, monkeypatch, minimum=1)
    assert forked_before == [1]  # the second group ran in a forked process
    here = _forecast(merchant, monkeypatch, minimum=10**9)
    assert forked_before == [1]  # and not this time

    assert forked["programs"] == here["programs"]
    window = forecast_window(merchant, 12, TODAY)
    assert forked["checks"] == here["checks"] == len(list(_history_rows(merchant, *window)))
    members = forked["programs"][0]["members"]
    buyers = Client.objects.filter(merchant=merchant, purchases__isnull=False).distinct().count()
    assert buyers <= members <= Client.objects.filter(merchant=merchant).count()


@needs_fork
def test_a_failed_forked_group_is_replayed_here(monkeypatch):
    merchant = seed("Europe/Moscow", purchases=300, clients=40)
    expected = _forecast(merchant, monkeypatch, minimum=10**9)

    real_fork = groups._fork
    dies_fork = lambda work: real_fork(lambda: os._exit(3))  # noqa: E731 — killed: no answer
    monkeypatch.setattr(groups, "_fork", dies_fork)
    monkeypatch.setattr(groups.os, "cpu_count", lambda: 2)
    assert _forecast(merchant, monkeypatch, minimum=1)["programs"] == expected["programs"]


@needs_fork
def test_the_forked_process_cannot_query_the_database():
    def queries():
        return Purchase.objects.count()

    pid, read_end = groups._fork(queries)
    assert groups._collect(pid, read_end) is None  # refused there: no answer
    pid, read_end = groups._fork(lambda: 41 + 1)
    assert groups._collect(pid, read_end) == 42
