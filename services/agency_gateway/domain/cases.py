"""A collection case's standing: whether it may be placed with an agency, and why not."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from services.agency_gateway.domain.policy import Arm, CaseStatus, PlacementPolicy
from shared.events.models import HoldReason


@dataclass(frozen=True)
class CaseFacts:
    """What placement needs to know of a case."""

    lender_id: str
    loan_id: str
    days_past_due: int
    amount: Decimal
    holds: Mapping[str, str] = field(default_factory=dict)  # hold id -> HoldReason value
    ended_reason: str | None = None  # "cured", "closed:settled" ...
    lender_recalled: bool = False
    cease: bool = False
    attorney: bool = False


def hold_exclusion(reason: str) -> str:
    if reason == HoldReason.DISPUTE:
        return "dispute"
    if reason == HoldReason.SUSPECTED_ILLEGAL_DEBT:
        return "illegal_debt"
    return f"hold:{reason}"


def exclusion(case: CaseFacts, policy: PlacementPolicy, arm: Arm) -> str | None:
    """Why the case may not be placed now (the first reason), or None when it may."""
    if case.ended_reason is not None:
        return case.ended_reason
    for reason in sorted(case.holds.values()):
        return hold_exclusion(reason)
    if case.cease:
        return "cease"
    if case.attorney:
        return "attorney"
    if case.lender_recalled:
        return "lender_recall"
    if case.days_past_due < policy.threshold(arm):
        return "below_threshold"
    if case.amount < policy.minimum_amount:
        return "below_minimum_amount"
    return None


def status_of(case: CaseFacts, policy: PlacementPolicy, arm: Arm, placed: bool) -> CaseStatus:
    if placed:
        return CaseStatus.PLACED
    reason = exclusion(case, policy, arm)
    if reason is None:
        return CaseStatus.READY_FOR_PLACEMENT
    if case.ended_reason is not None:
        return CaseStatus.ENDED
    if reason in ("below_threshold", "below_minimum_amount"):
        return CaseStatus.AWAITING_THRESHOLD
    return CaseStatus.EXCLUDED
