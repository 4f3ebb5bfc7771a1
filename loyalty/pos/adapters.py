"""POS adapters registered by name, served at `/pos/<name>/` (docs/extending.md "A new POS").

An adapter is two functions: `authenticate(request) -> Merchant` (raises `Unauthorized`)
and `parse(merchant=, payload=) -> Receipt` (raises `BadRequest`). The view
`loyalty.pos.views.pos_adapter_webhook` reads the JSON body, calls them, records the receipt
with `receipt_record` and logs and answers the outcome like the built-in adapters. Evotor
and Poster keep their own URLs (their vendors fix the paths and the answers)."""

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest

from onboarding.models import Merchant

from .receipt import Receipt


@dataclass(frozen=True)
class PosAdapter:
    name: str  # the URL segment and the POS events' `system` (≤ 10 characters)
    authenticate: Callable[[HttpRequest], Merchant]
    parse: Callable[..., Receipt]


_adapters: dict[str, PosAdapter] = {}


def pos_adapter_register(adapter: PosAdapter) -> None:
    """Serve `adapter` at `/pos/<adapter.name>/` (call it from an `AppConfig.ready`)."""
    _adapters[adapter.name] = adapter


def pos_adapter_unregister(name: str) -> None:
    _adapters.pop(name, None)


def pos_adapter_for(name: str) -> PosAdapter | None:
    return _adapters.get(name)
