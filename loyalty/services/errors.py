"""Domain errors of the engine. Each carries a message fit to show a cashier or a specialist."""


class LoyaltyError(Exception):
    """A request the rules refuse; nothing was written."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return str(self.message)


class RedemptionError(LoyaltyError):
    """Points or a certificate asked to pay more than the caps or the balance allow."""


class CertificateError(LoyaltyError):
    """The certificate is not this client's, not active or out of its validity."""


class RefundError(LoyaltyError):
    """A refund larger than what is left of its purchase, or of another merchant's purchase."""


class ClientError(LoyaltyError):
    """The client does not belong to the merchant, or a referral would make a cycle."""


class IdempotencyConflict(LoyaltyError):
    """The same external id arrived again with other content: refused, the first one stands."""
