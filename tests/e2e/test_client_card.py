"""The client card on a phone (390×844): a client joins from the till's QR link with a code
sent by SMS through the merchant's gateway (its HTTP API replaced by a fake that keeps the
texts), sees the card with the Telegram button of the merchant's bot, invites a friend who joins through the link and buys at
the till (the cashier finds the friend by the card's code), the inviter's referral reward
appears, the friend answers the feedback request and finds the review reward's campaign
message in the inbox, where the web push button is offered."""

import re
from decimal import Decimal as D

import pytest

from crm.models import Client, Review
from loyalty.channels import http
from loyalty.channels.models import ChannelSettings
from loyalty.models import Campaign, LedgerEntry, LedgerKind, OutboxMessage, Program
from onboarding.models import StaffMember
from tests.factories import UserFactory, reference_merchant
from tests.loyalty.channels.fakes import SmsGatewayFake

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PHONE_VIEWPORT = {"width": 390, "height": 844}


def join(page, url, phone, name, sms):
    page.goto(url)
    page.fill("input[name=phone]", phone)
    page.fill("input[name=full_name]", name)
    page.locator("#join-form button[type=submit]").click()
    page.wait_for_selector("#code-form")
    page.fill("input[name=code]", sms.code(phone))
    page.locator("#code-form button[type=submit]").click()
    page.wait_for_selector("#card")


def test_join_invite_buy_feedback_inbox(browser, live_server, artifacts_dir, monkeypatch):
    merchant = reference_merchant("sakura")
    # The live server runs in this process, so the fake gateway answers its requests.
    sms = SmsGatewayFake()
    monkeypatch.setattr(http, "TRANSPORT", sms)
    ChannelSettings.objects.update_or_create(
        merchant=merchant,
        defaults={
            "sms_gateway": "smsc",
            "smsc_login": "sakura",
            "smsc_password": "secret",
            "telegram_bot_token": "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
            "telegram_bot_username": "sakura_bot",
        },
    )
    Program.objects.filter(merchant=merchant).update(
        referral_bonus_points=D(150),
        referral_bonus_trigger="first_purchase",
        feedback_every_purchases=1,
    )
    Campaign.objects.filter(merchant=merchant).update(channel="console")
    Campaign.objects.create(
        merchant=merchant,
        kind="review_reward",
        name="Спасибо за отзыв",
        reward_form="points",
        reward_points=D(200),
        review_platform="any",
        channel="console",
    )
    base = live_server.url
    inviter_ctx = browser.new_context(viewport=PHONE_VIEWPORT)
    inviter = inviter_ctx.new_page()

    # 1. The inviter joins from the QR on the till poster.
    join(inviter, f"{base}/c/sakura/?src=qr", "+79130000001", "Анна", sms)
    anna = Client.objects.get(merchant=merchant, phone="+79130000001")
    assert inviter.locator("#card-code").inner_text() == anna.card_code
    welcome = anna.balance
    # The merchant has a bot: the card offers to link Telegram with a one-time deep link.
    telegram = inviter.locator("#telegram-link")
    assert telegram.is_visible()
    assert re.fullmatch(
        r"https://t\.me/sakura_bot\?start=[A-Za-z0-9_-]{1,64}", telegram.get_attribute("href")
    )
    # The codes went by SMS and are kept masked on the outbox record.
    code_record = OutboxMessage.objects.filter(kind="code", recipient="+79130000001").latest("pk")
    assert code_record.channel == "sms" and "••••••" in code_record.body
    inviter.screenshot(path=str(artifacts_dir / "card-phone.png"), full_page=True)

    # 2. The invitation link.
    inviter.goto(f"{base}/c/sakura/invite/")
    link = inviter.locator("#invite-link").input_value()
    assert "?ref=" in link

    # 3. The friend joins through it on another phone.
    friend_ctx = browser.new_context(viewport=PHONE_VIEWPORT)
    friend = friend_ctx.new_page()
    friend.goto(link)
    assert friend.locator("#invited-by").is_visible()
    join(friend, link, "+79130000002", "Борис", sms)
    boris = Client.objects.get(merchant=merchant, phone="+79130000002")
    assert boris.referred_by_id == anna.pk
    card_code = friend.locator("#card-code").inner_text()

    # 4. The cashier finds the friend by the card's code and records a purchase.
    user = UserFactory(username="cashier-card", role="cashier")
    StaffMember.objects.create(merchant=merchant, user=user, full_name="Кассир")
    till_ctx = browser.new_context(viewport=PHONE_VIEWPORT)
    till = till_ctx.new_page()
    till.goto(f"{base}/accounts/login/?next=/cashier/sakura/")
    till.fill("input[name=username]", "cashier-card")
    till.fill("input[name=password]", "pass-Word-123")
    till.click("main form button[type=submit]")
    till.fill("input[name=q]", card_code)
    till.locator("#search button[type=submit]").click()
    till.wait_for_selector("#client-card")
    assert "+79130000002" in till.locator("#client-card").inner_text()
    till.fill("input[name=amount]", "1000")
    till.locator("#purchase-form button[type=submit]").click()
    till.wait_for_selector(".messages li")

    # 5. The inviter's referral reward appears on the inviter's card.
    inviter.goto(f"{base}/c/sakura/card/")
    balance = D(inviter.locator("#balance").inner_text().replace(",", ".").replace("\xa0", ""))
    bonus = LedgerEntry.objects.get(client=anna, kind=LedgerKind.REFERRAL_BONUS)
    assert bonus.points == D(150)
    # The one-time bonus plus the program's level-1 percentage of the friend's check.
    referral = sum(
        LedgerEntry.objects.filter(
            client=anna, kind__in=[LedgerKind.REFERRAL_BONUS, LedgerKind.REFERRAL]
        ).values_list("points", flat=True)
    )
    assert balance == welcome + referral
    inviter.goto(f"{base}/c/sakura/history/")
    assert inviter.locator("#points .row").count() >= 2

    # 6. The friend is asked for feedback after the purchase and answers.
    friend.goto(f"{base}/c/sakura/card/")
    friend.wait_for_selector("#feedback")
    friend.locator("#feedback .stars label").nth(4).click()
    friend.fill("#feedback textarea[name=text]", "Очень вкусно")
    friend.locator("#feedback button.primary").click()
    friend.wait_for_selector(".messages li.success")
    assert not friend.locator("#feedback").count()
    review = Review.objects.get(client=boris)
    assert (review.rating, review.text) == (5, "Очень вкусно")

    # 7. The review reward's campaign message is in the friend's inbox.
    friend.goto(f"{base}/c/sakura/inbox/")
    friend.wait_for_selector("#inbox .message")
    assert "200" in friend.locator("#inbox").inner_text()
    # The merchant has a VAPID key, so the inbox offers notifications on this phone.
    friend.wait_for_selector("#push-subscribe", state="visible")
    key = ChannelSettings.objects.get(merchant=merchant).vapid_public_key
    assert friend.locator("#push").get_attribute("data-key") == key
    friend.screenshot(path=str(artifacts_dir / "card-inbox.png"), full_page=True)
    for ctx in (inviter_ctx, friend_ctx, till_ctx):
        ctx.close()
