"""Local days and birthdays. "Today" is always the merchant's local date."""

import calendar
from datetime import date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from onboarding.models import Merchant

# A missed daily run is caught up by the next one within this many days; older gaps need
# `run_campaigns --date`.
CATCH_UP_DAYS = 3
# The hour (merchant's local time) the default schedule runs at; a back-filled day is run
# as of this hour.
RUN_HOUR = 9


def day_start(merchant: Merchant, day: date) -> datetime:
    """The aware instant the merchant's local `day` begins."""
    return datetime.combine(day, time.min, tzinfo=merchant.tzinfo)


def local_date(merchant: Merchant, moment: datetime) -> date:
    return moment.astimezone(merchant.tzinfo).date()


def run_moment(merchant: Merchant, day: date, now: datetime | None = None) -> datetime:
    """The instant a run for `day` stands for: now if `day` is the merchant's today,
    otherwise RUN_HOUR of that local day (back-fill and time travel)."""
    now = now or timezone.now()
    if local_date(merchant, now) == day:
        return now
    return datetime.combine(day, time(RUN_HOUR), tzinfo=merchant.tzinfo)


def birthday_in_year(birthday: date, year: int) -> date:
    """The day a birthday is celebrated in `year`: 29 February is 28 February in common years."""
    if birthday.month == 2 and birthday.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return birthday.replace(year=year)


def birthday_targets(day: date, days_before: int) -> list[date]:
    """Birthdays whose gift is due on `day`: the one `days_before` ahead, plus the
    CATCH_UP_DAYS-1 ones whose due day a missed run left behind. Every campaign catches up the
    same number of missed days; with `days_before` under CATCH_UP_DAYS-1 (a gift on the day
    itself or the day before) a caught-up gift may arrive after the birthday, never later
    than CATCH_UP_DAYS-1 days after its due day."""
    return [day + timedelta(days=days_before - k) for k in range(CATCH_UP_DAYS)]


def gift_last_day(day: date, days: int) -> date:
    """The last local day a `days`-day gift given on `day` can be spent: the day of giving is
    the first of them."""
    return day + timedelta(days=days - 1)


def gift_burn_at(merchant: Merchant, day: date, days: int) -> datetime:
    """When a `days`-day gift given on the merchant's local `day` burns: the end of its last
    day in the merchant's time zone, so the first daily run after it burns the gift, whatever
    the hour it was given at."""
    return day_start(merchant, gift_last_day(day, days) + timedelta(days=1))


def add_months(day: date, months: int) -> date:
    """`day` plus whole months; the 31st becomes the month's last day."""
    return day + relativedelta(months=months)


def balance_lapse_day(activity_day: date, months: int) -> date:
    """The local day a whole balance expires: `months` after the last activity (the last
    purchase, or joining for a member who never bought)."""
    return add_months(activity_day, months)


def balance_last_lapsed_day(day: date, months: int) -> date:
    """The latest activity day whose balance has lapsed by `day` (`balance_lapse_day` of it is
    `day` or earlier): lapse days never decrease as the activity day grows, so every earlier
    activity day has lapsed too and no later one has. Month ends make up to three more activity
    days lapse on the same day (31 January and 28 February both lapse on 28 March of a common
    year with one month)."""
    last = add_months(day, -months)
    while balance_lapse_day(last + timedelta(days=1), months) <= day:
        last += timedelta(days=1)
    return last
