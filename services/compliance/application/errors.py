"""What the auditors' reads refuse; the API answers each as problem+json (``api/errors.py``)."""


class OtherLenderError(LookupError):
    """A scoped auditor named a lender its key does not cover (answered as nothing found)."""


class LenderRequiredError(ValueError):
    """An auditor of every lender named a loan but no lender (loan ids are per lender)."""

    field = "query.lender_id"


class LoanNotFoundError(LookupError):
    """No entry names the loan."""


class OutOfRangeError(ValueError):
    """A proof's parameters name a tree or leaf the log does not have."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.field = f"query.{parameter}"
