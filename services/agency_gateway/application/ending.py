"""Ending an assignment, the one way every trigger does it: the row, the case, the event."""

from datetime import datetime
from typing import Any

from services.agency_gateway.application.events import loan_event
from services.agency_gateway.application.ports import UnitOfWork
from shared.events.assignments import AssignmentEnded
from shared.events.catalog import ASSIGNMENT_EXPIRED, ASSIGNMENT_RECALLED, ASSIGNMENT_RETURNED
from shared.events.envelope import Envelope

END_EVENTS = {
    "recalled": ASSIGNMENT_RECALLED,
    "returned": ASSIGNMENT_RETURNED,
    "expired": ASSIGNMENT_EXPIRED,
}


async def end_assignment(
    uow: UnitOfWork,
    assignment: dict[str, Any],
    borrower_ref: str,
    status: str,
    reason: str,
    at: datetime,
    policy_version: str | None,
) -> Envelope:
    """End an active assignment (``recalled``, ``returned`` or ``expired``); its case is due for
    a new decision (placed elsewhere, or excluded). Returns the event to publish.

    The case is written first: ending the assignment then takes its agency's open-accounts
    counter (migration 0019's triggers), the last lock of the transaction, after the case's,
    in the order every placing transaction takes them."""
    key = (assignment["lender_id"], assignment["loan_id"])
    await uow.cases.change(key, agency_id=None, placement_due_at=at, updated_at=at)
    await uow.assignments.change(
        assignment["assignment_id"],
        status=status,
        ended_at=at,
        end_reason=reason,
        end_policy_version=policy_version,
        updated_at=at,
    )
    data = AssignmentEnded(
        assignment_id=assignment["assignment_id"],
        loan_id=assignment["loan_id"],
        borrower_ref=borrower_ref,
        agency_id=assignment["agency_id"],
        ended_at=at,
        reason=reason,
        policy_version=policy_version,
    )
    return loan_event(assignment, END_EVENTS[status], data)
