"""Data of compliance's events: a contact rule found broken after the fact."""

from pydantic import Field

from shared.events.limits import DateTime
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
    contact_at: DateTime
    leaf_indexes: list[int] = Field(
        description="Audit-log entries that prove it: the contact first, then its evidence."
    )
    explanation: str


class ViolationRetracted(Frozen):
    """A violation found earlier no longer holds: the loan, judged again with entries logged
    since (facts that happened before the contact but reached the log after it), broke no
    such rule. The violation's own entry stays in the log; this one clears it."""

    violation_id: str = Field(description="The violation retracted (its id when found).")
    rule_id: str
    pack_version: str = Field(description="The pack version the violation was found under.")
    loan_id: str
    party: str = Field(description="'lender' (its notifier) or 'agency:<agency id>'.")
    agency_id: str | None = None
    contact_id: str
    violation_leaf_index: int = Field(
        description="The violation-found entry this retracts (the latest, if found again)."
    )
    clearing_leaf_indexes: list[int] = Field(
        description="The loan's fact entries logged after that violation entry that its rule "
        "rests on (the report, holds, preferences or placements, CN-09 notices): the facts "
        "that now excuse the contact. Every fact entry of the loan logged since, if none of "
        "those kinds was; empty when only the pack changed."
    )
    explanation: str
