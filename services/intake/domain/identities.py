"""What makes a change the same as one already recorded: the one place that defines it.

Intake's history has one row per event with a unique (lender, identity): a resubmission of the
same change finds the event on record instead of making a second one, with or without an
``Idempotency-Key``.
"""

from datetime import UTC, datetime
from uuid import uuid4


def report(loan_id: str, as_of: datetime) -> str:
    """A report is the same as an earlier one when loan and ``as_of`` (the instant) match."""
    return f"report:{loan_id}:{as_of.astimezone(UTC).isoformat()}"


def payment(payment_id: str) -> str:
    """Payment ids are unique per lender, whichever loan they are reported on."""
    return f"payment:{payment_id}"


def hold_placed(hold_id: str) -> str:
    return f"hold:{hold_id}:placed"


def hold_lifted(hold_id: str) -> str:
    return f"hold:{hold_id}:lifted"


def closure(loan_id: str) -> str:
    """A loan closes once."""
    return f"close:{loan_id}"


def recall() -> str:
    """Every recall counts (an agency may hold the loan again later); retries use the
    ``Idempotency-Key``."""
    return f"recall:{uuid4()}"


def dispute_opened(dispute_id: str) -> str:
    return f"dispute:{dispute_id}:opened"


def dispute_resolved(dispute_id: str) -> str:
    """A dispute is resolved once."""
    return f"dispute:{dispute_id}:resolved"


def data_requested(request_id: str) -> str:
    return f"data-request:{request_id}"
