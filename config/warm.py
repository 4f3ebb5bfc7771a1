"""What a web process loads as it starts rather than on its first request: the URL configuration
(with it the admin modules, which Django set-up alone leaves out: `config.apps`) and the campaign
hooks the engine's first event would load (`loyalty.campaigns.signals` leaves them to whoever
records a purchase, so a management command never loads them)."""

from importlib import import_module

from django.conf import settings

WEB_START_MODULES = ("loyalty.campaigns.hooks",)


def web_modules_load() -> None:
    for name in (settings.ROOT_URLCONF, *WEB_START_MODULES):
        import_module(name)
