"""The agency API on assignments (agency role): each agency sees and acts on its own only.

Another agency's assignment is 404, as is an unknown one; an assignment that ended (recalled,
returned, expired) is 410 to everything but the list: its borrower data is gone.
"""

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Response

from services.agency_gateway.adapters.assignment_list import LISTED
from services.agency_gateway.api.dependencies import AgencyKey, AssignmentPages, Assignments
from services.agency_gateway.api.errors import bad_query
from services.agency_gateway.api.models import (
    ENDED,
    ActivityRecorded,
    ActivityReport,
    AssignmentDetail,
    AssignmentId,
    AssignmentItem,
    AssignmentPage,
    Borrower,
    ContactCheckAnswer,
    ContactCheckRequest,
    ReturnRequest,
    repeated,
)
from services.agency_gateway.application.assignments import Activity
from shared.contact_rules.sources import ACTIVITY_CHANNELS
from shared.events.limits import DateTime
from shared.events.money import MINOR_UNITS

STATUSES = ("placed", "acknowledged", "recalled", "returned", "expired")

router = APIRouter(prefix="/v1", tags=["handoff"])


@router.get(
    "/assignments",
    summary="The agency's assignments, oldest change first",
    response_model=AssignmentPage,
)
async def list_assignments(
    agency: AgencyKey,
    pages: AssignmentPages,
    status: Annotated[str | None, Query(pattern=f"^({'|'.join(STATUSES)})$")] = None,
    updated_since: Annotated[DateTime | None, Query(description="RFC 3339, with offset.")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    after = decode_cursor(cursor) if cursor is not None else None
    rows = await pages.page(agency.tenant, status, updated_since, after, limit + 1)
    items = [listed(row) for row in rows[:limit]]
    next_cursor = encode_cursor(items[-1]) if len(rows) > limit else None
    page = {"items": items, "next_cursor": next_cursor}
    return Response(orjson.dumps(page), media_type="application/json")


@router.get(
    "/assignments/{assignment_id}",
    summary="One assignment, with the borrower",
    responses=ENDED,
)
async def get_assignment(
    assignment_id: AssignmentId, agency: AgencyKey, handlers: Assignments
) -> AssignmentDetail:
    view = await handlers.detail(agency.tenant, assignment_id)
    contact, case = view.borrower, view.case
    return AssignmentDetail(
        **AssignmentItem.of(view.assignment).model_dump(),
        jurisdiction=case["jurisdiction"],
        days_past_due=case["days_past_due"],
        borrower=None
        if contact is None
        else Borrower(
            name=contact.name,
            phone=contact.phone,
            email=contact.email,
            timezone=case["borrower_zone"],
        ),
        withheld_reason=view.withheld,
    )


@router.post(
    "/assignments/{assignment_id}/ack", summary="Acknowledge the assignment", responses=ENDED
)
async def acknowledge(
    assignment_id: AssignmentId, agency: AgencyKey, handlers: Assignments
) -> AssignmentItem:
    return AssignmentItem.of(await handlers.acknowledge(agency.tenant, assignment_id))


@router.post(
    "/assignments/{assignment_id}/activities",
    summary="Report a contact attempt or a note (idempotent on activity_id)",
    status_code=201,
    responses=ENDED
    | repeated(ActivityRecorded, "activity")
    | {409: {"description": "This activity id was recorded with other content"}},
)
async def report_activity(
    assignment_id: AssignmentId,
    body: ActivityReport,
    agency: AgencyKey,
    handlers: Assignments,
    response: Response,
) -> ActivityRecorded:
    activity = Activity(**body.model_dump())
    recorded = await handlers.activity(agency.tenant, assignment_id, activity)
    if recorded.replayed:
        response.status_code = 200
    return ActivityRecorded(
        activity_id=recorded.activity_id,
        assignment_id=recorded.assignment_id,
        recorded_at=recorded.recorded_at,
        replayed=recorded.replayed,
    )


@router.post("/assignments/{assignment_id}/return", summary="Hand the loan back", responses=ENDED)
async def return_assignment(
    assignment_id: AssignmentId, body: ReturnRequest, agency: AgencyKey, handlers: Assignments
) -> AssignmentItem:
    return AssignmentItem.of(await handlers.give_back(agency.tenant, assignment_id, body.reason))


@router.post(
    "/assignments/{assignment_id}/contact-check",
    summary="May the agency make this contact (a call, a visit ...) at this time?",
    responses=ENDED,
)
async def contact_check(
    assignment_id: AssignmentId,
    body: ContactCheckRequest,
    agency: AgencyKey,
    handlers: Assignments,
) -> ContactCheckAnswer:
    at = body.at or datetime.now(UTC)
    channel = ACTIVITY_CHANNELS[body.channel]
    answer = await handlers.contact_check(agency.tenant, assignment_id, channel, at)
    return ContactCheckAnswer(
        allowed=answer.allowed,
        rules=list(answer.rules),
        explanation=answer.explanation,
        next_allowed_at=answer.next_allowed_at,
    )


def listed(row: Sequence[Any]) -> dict[str, Any]:
    """A row of the list's columns (``adapters/assignment_list.LISTED_COLUMNS``) as
    ``AssignmentItem`` shows it, built directly: a page of the list is serialised without
    validating each item again (the hot path agencies poll)."""
    item = dict(zip(LISTED, row, strict=False))
    amount, currency, notice_sent_at = row[len(LISTED) :]
    places = Decimal(1).scaleb(-MINOR_UNITS[currency])
    item["amount"] = {"amount": format(amount.quantize(places), "f"), "currency": currency}
    item["borrower_notified"] = notice_sent_at is not None
    return item


def encode_cursor(row: dict[str, Any]) -> str:
    raw = f"{row['updated_at'].isoformat()}|{row['assignment_id']}".encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, assignment_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        updated_at = datetime.fromisoformat(at)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise bad_query("cursor", "is not a cursor this API gave") from error
    if updated_at.tzinfo is None:  # this API writes the offset; a time without one is made up
        raise bad_query("cursor", "is not a cursor this API gave")
    return updated_at, assignment_id
