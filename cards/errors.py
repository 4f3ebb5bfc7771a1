class CardError(Exception):
    """A client-site action refused, with a message the client can read."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
