"""A case's status: whether it may be placed with an agency, and why not."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from services.agency_gateway.domain.policy import CaseStatus, PlacementPolicy, Variant
from shared.events.legal import LegalStage
from shared.events.models import (
    HoldLifted,
    HoldPlaced,
    HoldReason,
    LoanClosed,
    OverdueReported,
    PaymentReceived,
    PlacementRecalled,
)


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
    legal_stage: str | None = None  # shared.events.legal.LegalStage value


HOLD_RECALLS = ("dispute", "illegal_debt")  # end reasons of a hold's recall, and "hold:<reason>"
HOLD_RECALL_PREFIX = "hold:"


def recalled_by_hold(status: str, end_reason: str | None) -> bool:
    """Whether a hold took the loan back from its agency (the agency's doing nothing wrong):
    once the hold is lifted (a dispute rejected) the loan may go back to that agency."""
    return (
        status == "recalled"
        and end_reason is not None
        and (end_reason in HOLD_RECALLS or end_reason.startswith(HOLD_RECALL_PREFIX))
    )


def hold_exclusion(reason: str) -> str:
    if reason == HoldReason.DISPUTE:
        return "dispute"
    if reason == HoldReason.SUSPECTED_ILLEGAL_DEBT:
        return "illegal_debt"
    return f"hold:{reason}"


def exclusion(case: CaseFacts, policy: PlacementPolicy, variant: Variant) -> str | None:
    """Why the case may not be placed now (the first reason), or None when it may."""
    if case.ended_reason is not None:
        return case.ended_reason
    if case.legal_stage is not None and case.legal_stage != LegalStage.WITHDRAWN:
        return f"legal_stage:{case.legal_stage}"
    for reason in sorted(case.holds.values()):
        return hold_exclusion(reason)
    if case.cease:
        return "cease"
    if case.attorney:
        return "attorney"
    if case.lender_recalled:
        return "lender_recall"
    if case.days_past_due < policy.threshold(variant):
        return "below_threshold"
    if case.amount < policy.minimum_amount:
        return "below_minimum_amount"
    return None


def status_of(
    case: CaseFacts, policy: PlacementPolicy, variant: Variant, placed: bool
) -> CaseStatus:
    if placed:
        return CaseStatus.PLACED
    reason = exclusion(case, policy, variant)
    if reason is None:
        return CaseStatus.READY_FOR_PLACEMENT
    if case.ended_reason is not None:
        return CaseStatus.ENDED
    if reason in ("below_threshold", "below_minimum_amount"):
        return CaseStatus.AWAITING_THRESHOLD
    return CaseStatus.EXCLUDED


def case_of_report(lender_id: str, report: OverdueReported) -> dict[str, Any]:
    """What a report says of a case, besides its sealed contact and the gateway's own columns."""
    return {
        "lender_id": lender_id,
        "loan_id": report.loan_id,
        "borrower_ref": report.borrower.ref,
        "jurisdiction": report.jurisdiction,
        "amount_overdue": report.amount_overdue.amount,
        "currency": report.amount_overdue.currency,
        "days_past_due": report.days_past_due,
        "as_of": report.as_of,
        "borrower_zone": report.borrower.timezone,
        "region": report.borrower.region,
    }


def apply_event(case: dict[str, Any], data: Any) -> str | None:
    """Change the case by one lifecycle event; the recall reason, if the event takes the loan
    back from its agency. A cure or a closure also dates the end of the loan (``ended_at``,
    the first one's), from which its contact details' retention runs."""
    match data:
        case PaymentReceived():
            case["amount_overdue"] = data.outstanding.amount
            if data.cured:
                case["ended_reason"] = "cured"
                case["ended_at"] = case.get("ended_at") or data.paid_at
                return "paid_in_full"
        case HoldPlaced():
            case["holds"] = {**case["holds"], data.hold_id: data.reason.value}
            return hold_exclusion(data.reason.value)
        case HoldLifted():
            case["holds"] = {k: v for k, v in case["holds"].items() if k != data.hold_id}
        case PlacementRecalled():
            case["lender_recalled_at"] = data.recalled_at
            return "lender_recall"
        case LoanClosed():
            case["ended_reason"] = f"closed:{data.reason.value}"
            case["ended_at"] = case.get("ended_at") or data.closed_at
            return f"closed:{data.reason.value}"
    return None


def loan_ended(case: Mapping[str, Any]) -> bool:
    """Whether the loan is over for the gateway: cured, closed or recalled by the lender (it
    is never placed again)."""
    return case["ended_reason"] is not None or case["lender_recalled_at"] is not None
