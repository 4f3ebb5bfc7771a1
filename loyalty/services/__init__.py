"""The loyalty engine's services, split by concern:

- `purchases`: `purchase_record` / `purchase_record_many` (redemption, cashback, referral, tiers)
- `purchase_input`: the check as described, its result, its idempotency; `purchase_rules`: the
  rules applied to one check
- `refunds`: `refund_record`; `refund_lines`: a refunded purchase's lines, locked
- `pos_refunds`: `refund_or_pending` (POS refunds before their sale, pending refunds)
- `members`: `client_join`, `client_register` (welcome points, registration referral bonus)
- `tiers`: `client_tier_assign` (manual lock)
- `adjustments`: `points_adjust` (manual, with reason and user)
- `certificates`: `certificate_check`, `certificates_active`
- `rules`: the program snapshot and the pure arithmetic (caps, accrual base)
- `balances`: set-based ledger posting that keeps cached balances equal to ledger sums
"""

from .errors import CertificateError, ClientError, LoyaltyError, RedemptionError, RefundError

__all__ = ["CertificateError", "ClientError", "LoyaltyError", "RedemptionError", "RefundError"]
