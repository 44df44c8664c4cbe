"""An overdue report's event as JSON, made without a model per report (a batch makes a
thousand): its data, its envelope's bytes for the outbox, and its history details.

Each equals what the models make (unit tests compare them): ``data`` is
``OverdueReported.model_dump(mode="json")``, ``EncodedEvent.payload`` is ``Envelope.to_bytes()``
and ``details`` is ``without_sealed_values(data)`` plus the report's outcome.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from services.intake.application.ports import EncodedEvent
from services.intake.application.sealing import SealedBorrower
from services.intake.domain.commands import OverdueReport
from shared.events.catalog import EventType
from shared.events.envelope import message_key


def instant(value: datetime) -> str:
    """An aware datetime as pydantic writes it in JSON (RFC 3339, ``Z`` for UTC)."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def overdue_reported(report: OverdueReport, borrower: SealedBorrower) -> dict[str, Any]:
    """The data of the report's ``OVERDUE_REPORTED`` event, JSON-ready."""
    money = report.amount_overdue
    return {
        "loan_id": report.loan_id,
        "borrower": borrower.profile_fields(),
        "jurisdiction": str(report.jurisdiction),
        "product": report.product,
        "amount_overdue": {"amount": format(money.amount, "f"), "currency": money.currency},
        "due_date": report.due_date.isoformat(),
        "days_past_due": report.days_past_due,
        "as_of": instant(report.as_of),
    }


def history_details(data: dict[str, Any], outcome: str) -> dict[str, Any]:
    """What the history keeps of the event: everything but the sealed contact details."""
    borrower = {k: v for k, v in data["borrower"].items() if k != "contact"}
    return {**data, "borrower": borrower, "outcome": outcome}


def encoded(
    event_type: EventType,
    *,
    source: str,
    tenant: str,
    subject: str,
    data: dict[str, Any],
    event_id: UUID,
    time: datetime,
) -> EncodedEvent:
    """The event in its CloudEvents envelope, serialized once for the outbox."""
    envelope = {
        "specversion": "1.0",
        "id": str(event_id),
        "source": source,
        "type": event_type.name,
        "time": instant(time),
        "subject": subject,
        "datacontenttype": "application/json",
        "schemaversion": event_type.version,
        "tenantid": tenant,
        "data": data,
    }
    return EncodedEvent(
        event_id, event_type.name, message_key(tenant, subject), orjson.dumps(envelope)
    )
