"""gunicorn settings read from the project directory (`gunicorn config.wsgi …`): the hooks
live in `config/gunicorn_hooks.py`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from config.gunicorn_hooks import post_request  # noqa: E402

__all__ = ["post_request"]
