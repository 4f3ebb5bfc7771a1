"""The WSGI application. POS webhooks (`/pos/…`) run through `POS_MIDDLEWARE`, the
portal's chain without what serves people (sessions, CSRF, login lockout, messages, the
page CSP): a till's sale costs no work it does not need.

A web process loads its URL configuration, the admin modules and the campaign hooks as it starts,
not on its first request (`config.warm`)."""

import os

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

from .warm import web_modules_load

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
POS_PREFIX = "/pos/"


class PosWebhookHandler(WSGIHandler):
    """A handler whose middleware chain is `settings.POS_MIDDLEWARE`."""

    def load_middleware(self, is_async=False):
        portal = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.POS_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = portal


portal_application = get_wsgi_application()
pos_application = PosWebhookHandler()
web_modules_load()


def application(environ, start_response):
    if environ.get("PATH_INFO", "").startswith(POS_PREFIX):
        return pos_application(environ, start_response)
    return portal_application(environ, start_response)
