"""Functions a higher app installs for the campaigns at start-up: the RFM segments' client ids
(the reports app, `ReportsConfig.ready`), so loyalty never imports it.

A module of its own with no imports: registering a provider is all every process does with it
at start-up, and `segments` (which reads it) brings the issuance with it."""

from collections.abc import Callable

# (merchant, segment name, today) -> client ids; raises ValueError for an unknown segment.
RfmProvider = Callable[..., list[int]]
_rfm_provider: RfmProvider | None = None


def rfm_provider_register(provider: RfmProvider | None) -> None:
    """Install the function that lists an RFM segment's clients (called with keyword
    arguments merchant, segment, today). The reports app does this at start-up; None
    uninstalls it."""
    global _rfm_provider
    _rfm_provider = provider


def rfm_provider() -> RfmProvider | None:
    """The installed RFM provider, or None (no reports app)."""
    return _rfm_provider
