"""One-time codes: hashed, expiring, attempts limited, single use, rate-limited per phone
and per IP."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from cards.codes import code_issue, code_verify, link_verify
from cards.errors import CardError
from cards.models import CodePurpose, OneTimeCode

PHONE = "+79130000001"


def issue(merchant, phone=PHONE, ip="10.0.0.1", purpose=CodePurpose.JOIN):
    return code_issue(merchant=merchant, phone=phone, purpose=purpose, ip=ip)


def test_code_is_stored_hashed_and_spent_once(merchant):
    issued = issue(merchant)
    row = OneTimeCode.objects.get()
    assert issued.code not in row.code_hash and len(row.code_hash) == 64
    code_verify(merchant=merchant, phone=PHONE, purpose=CodePurpose.JOIN, code=issued.code)
    with pytest.raises(CardError, match="expired"):
        code_verify(merchant=merchant, phone=PHONE, purpose=CodePurpose.JOIN, code=issued.code)


def test_code_is_bound_to_merchant_phone_and_purpose(merchant):
    from tests.factories import MerchantFactory

    issued = issue(merchant)
    other = MerchantFactory()
    with pytest.raises(CardError):
        code_verify(merchant=other, phone=PHONE, purpose=CodePurpose.JOIN, code=issued.code)
    with pytest.raises(CardError):
        code_verify(merchant=merchant, phone=PHONE, purpose=CodePurpose.SIGNIN, code=issued.code)
    code_verify(merchant=merchant, phone=PHONE, purpose=CodePurpose.JOIN, code=issued.code)


def test_wrong_guesses_are_limited(merchant):
    issued = issue(merchant)
    wrong = "000000" if issued.code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        with pytest.raises(CardError, match=f"{left} attempt"):
            code_verify(merchant=merchant, phone=PHONE, purpose=CodePurpose.JOIN, code=wrong)
    with pytest.raises(CardError, match="Too many wrong codes"):
        code_verify(merchant=merchant, phone=PHONE, purpose=CodePurpose.JOIN, code=wrong)
    # Even the right code is refused now: the guesses are used up.
    with pytest.raises(CardError, match="Too many wrong codes"):
        code_verify(merchant=merchant, phone=PHONE, purpose=CodePurpose.JOIN, code=issued.code)


def test_code_expires(merchant):
    issued = issue(merchant)
    OneTimeCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(CardError, match="expired"):
        code_verify(merchant=merchant, phone=PHONE, purpose=CodePurpose.JOIN, code=issued.code)


def test_new_code_replaces_the_old_one(merchant):
    first = issue(merchant)
    second = issue(merchant)
    if first.code != second.code:
        with pytest.raises(CardError):
            code_verify(merchant=merchant, phone=PHONE, purpose=CodePurpose.JOIN, code=first.code)
    code_verify(merchant=merchant, phone=PHONE, purpose=CodePurpose.JOIN, code=second.code)


def test_rate_limit_per_phone(merchant):
    for _ in range(3):
        issue(merchant)
    with pytest.raises(CardError, match="Try again in 10 minutes"):
        issue(merchant)
    # Another phone from the same IP is still served.
    issue(merchant, phone="+79130000002")
    # Ten minutes later the phone may ask again.
    OneTimeCode.objects.filter(phone=PHONE).update(
        created_at=timezone.now() - timedelta(minutes=11)
    )
    issue(merchant)


@override_settings(CARDS_CODES_PER_IP_HOUR=5)
def test_rate_limit_per_ip(merchant):
    for n in range(5):
        issue(merchant, phone=f"+7913000001{n}")
    with pytest.raises(CardError, match="Too many codes"):
        issue(merchant, phone="+79130000020")
    issue(merchant, phone="+79130000020", ip="10.0.0.2")


def test_daily_limit_per_phone(merchant):
    now = timezone.now()
    for hours in range(1, 11):
        OneTimeCode.objects.create(
            merchant=merchant,
            phone=PHONE,
            purpose=CodePurpose.JOIN,
            code_hash="x",
            created_at=now - timedelta(hours=hours),
            expires_at=now - timedelta(hours=hours),
        )
    with pytest.raises(CardError, match="Too many codes"):
        issue(merchant)


def test_magic_link_single_use(merchant):
    issued = issue(merchant, purpose=CodePurpose.SIGNIN)
    assert issued.link_token not in OneTimeCode.objects.get().link_hash
    row = link_verify(merchant=merchant, token=issued.link_token)
    assert row.phone == PHONE
    with pytest.raises(CardError):
        link_verify(merchant=merchant, token=issued.link_token)
    with pytest.raises(CardError):
        link_verify(merchant=merchant, token="forged")
