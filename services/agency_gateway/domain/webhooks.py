"""What agencies are told by webhook (a failed delivery waits ``shared.db.backoff.backoff``)."""

from typing import Any

from shared.events.catalog import ASSIGNMENT_EXPIRED, ASSIGNMENT_PLACED, ASSIGNMENT_RECALLED
from shared.events.envelope import Envelope

WEBHOOK_EVENTS = {
    ASSIGNMENT_PLACED.name: "assignment.placed",
    ASSIGNMENT_RECALLED.name: "assignment.recalled",
    ASSIGNMENT_EXPIRED.name: "assignment.expired",
}
EXPIRING = "assignment.expiring"


def payload(event: str, delivery_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """The body an agency receives: the event and what it needs to act (no borrower data:
    it reads the assignment through the API)."""
    fields = ("assignment_id", "loan_id", "placed_at", "expires_at", "ended_at", "reason")
    return {
        "id": delivery_id,
        "type": event,
        "data": {name: data[name] for name in fields if data.get(name) is not None},
    }


def announced(envelope: Envelope) -> str | None:
    """The webhook event an assignment event becomes, if agencies are told of it."""
    return WEBHOOK_EVENTS.get(envelope.type)
