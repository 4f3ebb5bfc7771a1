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
        # the ledger installed here.
        from crm.importing.balances import opening_balances_install

        from .ledger.opening import LedgerOpeningBalances

        opening_balances_install(LedgerOpeningBalances())
