"""What the notifier's use cases refuse; ``api/errors.py`` answers each as problem+json."""


class LoanNotFoundError(LookupError):
    """The lender has no loan of that id here."""

    def __init__(self, loan_id: str) -> None:
        super().__init__(f"No loan {loan_id!r} is known here.")


class UnknownProviderError(LookupError):
    """No provider of that name reports to this notifier."""

    def __init__(self, provider: str) -> None:
        super().__init__(f"No provider {provider!r} reports here.")


class CallbackRejected(Exception):  # noqa: N818 (the name the providers' adapters raise)
    """Answer the provider with ``status`` (401: signature or token bad or missing; 400:
    malformed). ``reason`` holds no personal data."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
