"""Id and amount lists as one PostgreSQL array literal: `array_text`, `ids_in`.

Their home, with the JSON-rows shape and the contract saying which to use for what, is
`loyalty.ledger.params`; they stay importable from here."""

from loyalty.ledger.params import array_text, ids_in

__all__ = ["array_text", "ids_in"]
