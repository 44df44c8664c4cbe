"""Data of compliance's events: a contact rule found broken after the fact."""

from pydantic import AwareDatetime, Field

from shared.events.models import Frozen


class ViolationFound(Frozen):
    """A past contact broke a rule of its jurisdiction's pack (judged from the audit log)."""

    violation_id: str = Field(description="Stable: the same contact and rule, the same id.")
    rule_id: str
    pack_version: str
    loan_id: str
    party: str = Field(description="'lender' (its notifier) or 'agency:<agency id>'.")
    agency_id: str | None = None
    contact_id: str
    contact_at: AwareDatetime
    leaf_indexes: list[int] = Field(
        description="Audit-log entries that prove it: the contact first, then its evidence."
    )
    explanation: str
