"""The enumerations loyalty's tables share, and the field sizes of points, money and percents."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from onboarding.models import PERCENT_VALIDATORS

POINTS = {"max_digits": 14, "decimal_places": 2}


MONEY = {"max_digits": 14, "decimal_places": 2}


PERCENT = {"max_digits": 5, "decimal_places": 2, "validators": PERCENT_VALIDATORS}


class ReferralTrigger(models.TextChoices):
    REGISTRATION = "registration", _("Friend's registration")
    FIRST_PURCHASE = "first_purchase", _("Friend's first purchase")


class CampaignKind(models.TextChoices):
    BIRTHDAY = "birthday", _("Birthday")
    WINBACK = "winback", _("Win-back")
    CHECK_GROWTH = "check_growth", _("Check growth")
    REVIEW_REWARD = "review_reward", _("Review reward")
    WELCOME = "welcome", _("Welcome")
    SEGMENT_GIFT = "segment_gift", _("Short-lived segment gift")
    PARTNER_CERTIFICATE = "partner_certificate", _("Partner certificates")


class RewardForm(models.TextChoices):
    POINTS = "points", _("Points to the balance")
    CERTIFICATE = "certificate", _("Certificate")


class Channel(models.TextChoices):
    INBOX = "inbox", _("Card inbox only")
    WEB_PUSH = "web_push", _("Web push (card)")
    TELEGRAM = "telegram", _("Telegram")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")
    CONSOLE = "console", _("Console (log)")


class CampaignAudience(models.TextChoices):
    """Who a campaign may reward: digitised members only, or also every contact who consented
    (imported contacts included). Widening the audience never drops a member."""

    MEMBERS = "members", _("Members (joined the program)")
    CONTACTS = "contacts", _("Members and all contacts with consent")


class ReviewPlatform(models.TextChoices):
    ANY = "any", _("Any")
    TWOGIS = "2gis", _("2GIS")
    MAPS = "maps", _("Maps (Yandex/Google)")
    APP = "app", _("In-app")


class BudgetUnit(models.TextChoices):
    POINTS = "points", _("Points")
    MONEY = "money", _("Money")


class PaymentType(models.TextChoices):
    CASH = "cash", _("Cash")
    CARD = "card", _("Bank card")
    ONLINE = "online", _("Online")
    INSTALLMENT = "installment", _("Installment")
    MIXED = "mixed", _("Mixed")


class LedgerKind(models.TextChoices):
    WELCOME = "welcome", _("Welcome")
    ACCRUAL = "accrual", _("Cashback accrual")
    REDEMPTION = "redemption", _("Redemption")
    REFERRAL_BONUS = "referral_bonus", _("Referral one-time bonus")
    REFERRAL = "referral", _("Referral percentage")
    CAMPAIGN = "campaign", _("Campaign gift")
    CERTIFICATE = "certificate", _("Certificate")
    EXPIRY = "expiry", _("Expiry")
    OPENING_BALANCE = "opening_balance", _("Opening balance (import)")
    ADJUSTMENT = "adjustment", _("Manual adjustment")
    REFUND = "refund", _("Refund reversal")
