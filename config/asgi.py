"""The ASGI application; like the WSGI one, it loads the URL configuration, the admin modules and
the campaign hooks as the process starts, not on its first request (`config.warm`)."""

import os

from django.core.asgi import get_asgi_application

from .warm import web_modules_load

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()
web_modules_load()
