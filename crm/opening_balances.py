"""Opening balances: what the client import needs from the points ledger.

The ledger lives in `loyalty`, a floor above crm (tests/architecture/test_layers.py), so the
importer never imports it. loyalty installs its implementation when the apps are ready
(`loyalty.apps.LoyaltyConfig.ready` → `opening_balances_install`); the writer and the undo call
`opening_balances()`. A project without loyalty imports clients without points.

A module of its own, outside `crm.importing`: installing is all every process does with it at
start-up, and the import's package (readers, detection, phones) is not start-up work. The
implementation is named by its dotted path and imported when an import first asks for it, so
the ledger is not loaded by a process that imports nobody."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, Q
from django.utils.module_loading import import_string


class PendingEntries(Protocol):
    count: int

    def write(self, conn=None) -> int:
        """Record the entries; how many were recorded."""


class OpeningBalances(Protocol):
    def holders(self, client_ids: list[int], *, conn=None) -> set[int]:
        """Which of these clients already hold an opening balance."""

    def post(
        self,
        *,
        credits: list[tuple[int, Decimal]],
        created_at: dt.datetime,
        reason: str,
        user_id: int | None,
        conn=None,
    ) -> int:
        """Credit each (client id, points) once ever; how many were credited."""

    def start_balance(self, points: Decimal) -> Decimal:
        """The balance a client created with this opening balance starts with."""

    def prepare_new(
        self,
        *,
        merchant_id: int,
        credits: list[tuple[int, Decimal]],
        created_at: dt.datetime,
        reason: str,
        user_id: int | None,
        conn=None,
    ) -> PendingEntries:
        """The opening balances of clients this transaction creates, each holding
        `start_balance(points)`, made ready without a statement (the importer prepares them
        while the server stores the clients): entries only, as nobody else sees these rows
        yet and none holds an opening balance."""

    def reverse(
        self,
        *,
        merchant_id: int,
        created_at: dt.datetime,
        removed_client_ids: list[int],
        reason: str,
        user_id: int | None,
    ) -> tuple[int, Decimal]:
        """Reverse the opening balances one run credited at `created_at`, except on the clients
        about to be removed with their rows; returns (entries reversed, points not covered
        because they were spent)."""

    def own_rows(self, *, created_at: dt.datetime) -> dict[type[Model], Q]:
        """Rows a run wrote itself (its opening balances), by model: not activity since."""


_installed: OpeningBalances | str | None = None


def opening_balances_install(implementation: OpeningBalances | str | None) -> None:
    """Install the ledger: an implementation, or the dotted path of a class (or factory) to
    call once, when `opening_balances()` is first called. None uninstalls it."""
    global _installed
    _installed = implementation


def opening_balances() -> OpeningBalances:
    global _installed
    if _installed is None:
        raise ImproperlyConfigured(
            "No points ledger is installed: add the loyalty app to import opening balances."
        )
    if isinstance(_installed, str):
        _installed = import_string(_installed)()
    return _installed
