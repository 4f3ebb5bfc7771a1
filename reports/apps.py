from django.apps import AppConfig
from django.db.models.signals import post_delete
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Reports")

    def ready(self):
        # Loyalty sits below reports and never imports it: segment gifts reach the RFM
        # segments through the provider installed here. A deleted merchant's client changes
        # (plain ids, no foreign key) are deleted with it.
        # In ready(): these import models, which need the app registry loaded.
        from loyalty.campaigns.providers import rfm_provider_register
        from onboarding.models import Merchant

        # In ready(), as above: both import the reports' models.
        from .members import merchant_changes_forget
        from .rfm import segment_client_ids

        rfm_provider_register(segment_client_ids)
        post_delete.connect(
            merchant_changes_forget, sender=Merchant, dispatch_uid="reports_merchant_changes"
        )
