"""The last activity day lapsed by a day (`balance_last_lapsed_day`): exactly the activity
days whose balance lapses by then are on or before it, month ends and leap years included —
the expiry's look-up reads only the clients due by it."""

from datetime import date, timedelta

import pytest

from loyalty.campaigns.dates import balance_lapse_day, balance_last_lapsed_day


@pytest.mark.parametrize("months", [1, 2, 6, 11, 12, 24, 36])
def test_the_activity_days_lapsed_by_a_day_are_those_up_to_the_last_lapsed_day(months):
    start = date(2023, 1, 1)
    for offset in range(800):
        day = start + timedelta(days=offset)
        last = balance_last_lapsed_day(day, months)
        for delta in range(-8, 9):
            activity = last + timedelta(days=delta)
            assert (balance_lapse_day(activity, months) <= day) == (activity <= last), (
                day,
                activity,
            )


def test_month_ends_lapse_together():
    # 29, 30 and 31 January lapse on 28 February of a common year with one month.
    assert balance_last_lapsed_day(date(2025, 2, 28), 1) == date(2025, 1, 31)
    assert balance_last_lapsed_day(date(2025, 2, 27), 1) == date(2025, 1, 27)
    assert balance_last_lapsed_day(date(2024, 2, 29), 1) == date(2024, 1, 31)
    assert balance_last_lapsed_day(date(2024, 2, 28), 1) == date(2024, 1, 28)
