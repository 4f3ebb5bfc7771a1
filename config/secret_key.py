"""The Django secret key when the environment sets none: generated once per checkout into a
private file (0600), so no secret is ever committed. One host only — every host of a
deployment must share the key (sessions, password-reset links and signed card links are signed
with it), so production sets SECRET_KEY and start-up warns when it did not (DEBUG off)."""

import logging
import os
from pathlib import Path

log = logging.getLogger("config.secret_key")

WARNING = (
    "SECRET_KEY is not set: using the key generated for this checkout in %s. Sessions and signed "
    "links will not work across hosts or survive a new checkout; set SECRET_KEY in production "
    "(docs/deployment.md)."
)


def secret_key_from_file(path: Path) -> str:
    """The key kept in `path`, created with a fresh random key (mode 0600) when missing; an
    existing file readable by others is made private."""
    if not path.exists():
        from django.core.management.utils import get_random_secret_key

        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process wrote it first: read theirs
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(get_random_secret_key())
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path.read_text().strip()


def secret_key_warn(*, generated_in: Path | None, debug: bool) -> bool:
    """Log the start-up warning when the key came from the per-checkout file with DEBUG off;
    True when it did."""
    if generated_in is None or debug:
        return False
    log.warning(WARNING, generated_in)
    return True
