from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CardsConfig(AppConfig):
    name = "cards"
    verbose_name = _("Client card")

    def ready(self) -> None:
        # In ready(): these import models, which need the app registry loaded.
        from loyalty.channels.consent import consent_changed

        from .consent import consent_history_record

        consent_changed.connect(consent_history_record, dispatch_uid="cards.consent_history")
