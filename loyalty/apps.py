from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty program")

    def ready(self):
        # The engine announces its events (loyalty.events); campaigns subscribe here, so the
        # engine never imports them. `signals` loads the campaign hooks when an event first
        # arrives, not at start-up (see its docstring).
        from .campaigns import signals

        signals.connect()

        # The client import (crm, a floor below) credits and reverses opening balances through
        # the ledger installed here, by name: the ledger is imported by the first import that
        # asks for it, not by every process at start-up.
        from crm.opening_balances import opening_balances_install

        opening_balances_install("loyalty.ledger.opening.LedgerOpeningBalances")

        # A merchant saved or deleted may have a new token or none: the POS token cache
        # forgets (models are loaded only now, so these imports wait for ready()).
        from django.db.models.signals import post_delete, post_save

        from onboarding.models import Merchant  # the app registry is ready only now

        from .pos import tokens  # light: settings and a dict, no engine module

        post_save.connect(tokens.forget, sender=Merchant, dispatch_uid="evotor_tokens_saved")
        post_delete.connect(tokens.forget, sender=Merchant, dispatch_uid="evotor_tokens_deleted")
