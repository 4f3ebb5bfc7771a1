"""Functions a higher app installs for the campaigns at start-up: the RFM segments' client ids
(the reports app, `ReportsConfig.ready`), so loyalty never imports it.

A module of its own, importing nothing of the project: registering a provider is all every
process does with it at start-up, and `segments` (which reads it) brings the issuance with it.
A provider may be registered by its dotted path, imported when a segment gift first asks for it
(the reports' RFM module is not start-up work)."""

from collections.abc import Callable

from django.utils.module_loading import import_string

# (merchant, segment name, today) -> client ids; raises ValueError for an unknown segment.
RfmProvider = Callable[..., list[int]]
_rfm_provider: RfmProvider | str | None = None


def rfm_provider_register(provider: RfmProvider | str | None) -> None:
    """Install the function that lists an RFM segment's clients (called with keyword
    arguments merchant, segment, today), or its dotted path. The reports app does this at
    start-up; None uninstalls it."""
    global _rfm_provider
    _rfm_provider = provider


def rfm_provider() -> RfmProvider | None:
    """The installed RFM provider, or None (no reports app)."""
    global _rfm_provider
    if isinstance(_rfm_provider, str):
        _rfm_provider = import_string(_rfm_provider)
    return _rfm_provider
