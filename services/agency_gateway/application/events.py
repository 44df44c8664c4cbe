"""The events the gateway publishes: their source, and an event about an assignment's loan."""

from typing import Any

from pydantic import BaseModel

from shared.events.catalog import EventType
from shared.events.envelope import Envelope

SOURCE = "/collections/agency-gateway"


def loan_event(row: dict[str, Any], event_type: EventType[Any], data: BaseModel) -> Envelope:
    """An event of the lender's loan ``row`` names (an assignment or a case)."""
    return event_type.envelope(
        source=SOURCE, subject=row["loan_id"], tenant=row["lender_id"], data=data
    )
