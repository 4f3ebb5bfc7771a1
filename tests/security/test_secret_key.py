"""The per-checkout secret key: written private (0600), an existing world-readable key file is
made private, and start-up warns when the key was generated and DEBUG is off (every host of a
deployment must share one SECRET_KEY)."""

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

from config.secret_key import secret_key_from_file, secret_key_warn

ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generated_key_file_is_private(tmp_path):
    old_umask = os.umask(0o022)  # the usual umask would give 0644
    try:
        key = secret_key_from_file(tmp_path / ".secret_key")
    finally:
        os.umask(old_umask)
    assert len(key) >= 50
    assert mode(tmp_path / ".secret_key") == 0o600
    # Read back, not generated again.
    assert secret_key_from_file(tmp_path / ".secret_key") == key


def test_world_readable_key_file_is_made_private(tmp_path):
    path = tmp_path / ".secret_key"
    path.write_text("an-existing-key\n")
    path.chmod(0o644)
    assert secret_key_from_file(path) == "an-existing-key"
    assert mode(path) == 0o600


def test_warning_only_for_generated_key_without_debug(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="config.secret_key")
    assert secret_key_warn(generated_in=None, debug=False) is False
    assert secret_key_warn(generated_in=tmp_path, debug=True) is False
    assert caplog.records == []
    assert secret_key_warn(generated_in=tmp_path, debug=False) is True
    assert "SECRET_KEY is not set" in caplog.text and str(tmp_path) in caplog.text


def start(**env) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    code = "import django; django.setup()"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stderr


def test_start_up_warns_when_the_key_was_generated():
    assert "SECRET_KEY is not set" in start(DEBUG="false")
    assert "SECRET_KEY is not set" not in start(DEBUG="true")
    assert "SECRET_KEY is not set" not in start(DEBUG="false", SECRET_KEY="x" * 50)
