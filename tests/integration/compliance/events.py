"""Events as the agency gateway and the notifier publish them, straight onto their topics."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

from pydantic import BaseModel

from shared.events.assignments import (
    ActivityDirection,
    ActivityOutcome,
    ActivityType,
    AgencyActivityRecorded,
    AssignmentPlaced,
    PromiseRecorded,
)
from shared.events.catalog import (
    AGENCY_ACTIVITY_RECORDED,
    ASSIGNMENT_PLACED,
    NOTIFICATION_EVENTS,
    EventType,
)
from shared.events.money import Money
from shared.events.notifications import NotificationChanged, NotificationKind, NotificationStatus
from shared.events.topics import Topic
from shared.runtime import ServiceRuntime
from shared.vocabulary import Channel


async def publish(
    runtime: ServiceRuntime, event_type: EventType, lender: str, subject: str, data: BaseModel
) -> None:
    envelope = event_type.envelope(source="/tests", subject=subject, tenant=lender, data=data)
    await runtime.producer.send_and_wait(
        runtime.topic(Topic(event_type.topic)), envelope.to_bytes(), key=envelope.key.encode()
    )


def placed(
    loan_id: str, borrower_ref: str, agency_id: str, at: datetime | None = None
) -> AssignmentPlaced:
    return AssignmentPlaced(
        assignment_id=f"A-{loan_id}-{agency_id}",
        loan_id=loan_id,
        borrower_ref=borrower_ref,
        agency_id=agency_id,
        agency_name=f"{agency_id} Recoveries",
        placed_at=at or datetime(2026, 11, 1, tzinfo=UTC),
        policy_version="test",
        reason="unpaid past the threshold",
    )


def activity(
    loan_id: str, borrower_ref: str, agency_id: str, at: datetime, **changes: Any
) -> AgencyActivityRecorded:
    fields: dict[str, Any] = {
        "activity_id": f"ACT-{uuid4().hex[:12]}",
        "assignment_id": f"A-{loan_id}-{agency_id}",
        "loan_id": loan_id,
        "borrower_ref": borrower_ref,
        "agency_id": agency_id,
        "type": ActivityType.CALL,
        "direction": ActivityDirection.OUTBOUND,
        "outcome": ActivityOutcome.NO_ANSWER,
        "at": at,
        **changes,
    }
    return AgencyActivityRecorded(**fields)


def promised(
    loan_id: str, agency_id: str, promise_id: str, amount: str, due: date, at: datetime
) -> PromiseRecorded:
    return PromiseRecorded(
        promise_id=promise_id,
        assignment_id=f"A-{loan_id}-{agency_id}",
        loan_id=loan_id,
        agency_id=agency_id,
        amount=Money(amount=Decimal(amount), currency="CNY"),
        due_date=due,
        recorded_at=at,
    )


def sent(loan_id: str, borrower_ref: str, at: datetime) -> NotificationChanged:
    return NotificationChanged(
        notification_id=uuid4(),
        loan_id=loan_id,
        borrower_ref=borrower_ref,
        kind=NotificationKind.REMINDER,
        step=1,
        channel=Channel.SMS,
        template="reminder-1",
        locale="en-US",
        policy_id="default",
        policy_version="1",
        pack_version="us-2026.1",
        status=NotificationStatus.SENT,
        at=at,
        due_at=at - timedelta(minutes=1),
        provider="twilio",
    )


async def publish_contacts(
    runtime: ServiceRuntime, lender: str, loan_id: str, borrower_ref: str, count: int
) -> None:
    """A placement, then ``count`` calls and reminders alternately, an hour apart."""
    start = datetime(2026, 11, 2, 15, tzinfo=UTC)
    await publish(
        runtime, ASSIGNMENT_PLACED, lender, loan_id, placed(loan_id, borrower_ref, "agency-a")
    )
    for i in range(count):
        at = start + timedelta(hours=i)
        if i % 2:
            event: BaseModel = sent(loan_id, borrower_ref, at)
            await publish(
                runtime, NOTIFICATION_EVENTS[NotificationStatus.SENT], lender, loan_id, event
            )
        else:
            event = activity(loan_id, borrower_ref, "agency-a", at)
            await publish(runtime, AGENCY_ACTIVITY_RECORDED, lender, loan_id, event)
