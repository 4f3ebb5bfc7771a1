from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Reports")

    def ready(self):
        # Loyalty sits below reports and never imports it: segment gifts reach the RFM
        # segments through the provider installed here.
        # In ready(): both import models, which need the app registry loaded.
        from loyalty.campaigns.providers import rfm_provider_register

        from .rfm import segment_client_ids

        rfm_provider_register(segment_client_ids)
