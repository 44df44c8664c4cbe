"""The list's hand-built items say what ``AssignmentItem`` says."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import orjson

from services.agency_gateway.adapters.assignment_list import LISTED_COLUMNS
from services.agency_gateway.api.assignments import listed
from services.agency_gateway.api.models import AssignmentItem


def test_a_listed_row_is_the_item_the_model_makes() -> None:
    now = datetime.now(UTC)
    row = {
        "assignment_id": "A-1",
        "loan_id": "L-1",
        "status": "acknowledged",
        "placed_at": now,
        "ack_due_at": now,
        "expires_at": now,
        "acknowledged_at": now,
        "ended_at": None,
        "updated_at": now,
        "amount": Decimal("1250.0000"),
        "currency": "JPY",
        "notice_sent_at": now,
    }
    read = tuple(row[column.name] for column in LISTED_COLUMNS)  # as the list reads it
    built = AssignmentItem.model_validate(json.loads(orjson.dumps(listed(read))))
    assert built == AssignmentItem.of(row)
    assert listed(read)["amount"] == {"amount": "1250", "currency": "JPY"}
