"""The handoff API (agency role): each agency sees and acts on its own assignments only.

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
from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select, tuple_

from services.agency_gateway.adapters.tables import assignments
from services.agency_gateway.api.models import (
    ENDED,
    ActivityRecorded,
    ActivityReport,
    AssignmentDetail,
    AssignmentId,
    AssignmentItem,
    AssignmentPage,
    ContactCheckAnswer,
    ContactCheckRequest,
    ReturnRequest,
    repeated,
)
from services.agency_gateway.handoff import Handoff
from shared.auth import Principal, Role, role_required
from shared.contact_rules.sources import ACTIVITY_CHANNELS
from shared.events.limits import DateTime
from shared.events.money import MINOR_UNITS
from shared.http.problems import ProblemError

STATUSES = ("placed", "acknowledged", "recalled", "returned", "expired")


AgencyKey = Annotated[Principal, Depends(role_required(Role.AGENCY))]


def assignments_router(handoff: Handoff) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["handoff"])
    runtime = handoff.runtime

    @router.get(
        "/assignments",
        summary="The agency's assignments, oldest change first",
        response_model=AssignmentPage,
    )
    async def list_assignments(
        agency: AgencyKey,
        status: Annotated[str | None, Query(pattern=f"^({'|'.join(STATUSES)})$")] = None,
        updated_since: Annotated[
            DateTime | None, Query(description="RFC 3339, with offset.")
        ] = None,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Response:
        query = select(*LISTED_COLUMNS).where(assignments.c.agency_id == agency.subject)
        if status is not None:
            query = query.where(assignments.c.status == status)
        if updated_since is not None:
            query = query.where(assignments.c.updated_at >= updated_since)
        if cursor is not None:
            after = decode_cursor(cursor)
            query = query.where(
                tuple_(assignments.c.updated_at, assignments.c.assignment_id) > after
            )
        query = query.order_by(assignments.c.updated_at, assignments.c.assignment_id)
        async with runtime.reads() as session:
            rows = (await session.execute(query.limit(limit + 1))).all()
        items = [listed(row) for row in rows[:limit]]
        next_cursor = encode_cursor(items[-1]) if len(rows) > limit else None
        page = {"items": items, "next_cursor": next_cursor}
        return Response(orjson.dumps(page), media_type="application/json")

    @router.get(
        "/assignments/{assignment_id}",
        summary="One assignment, with the borrower",
        responses=ENDED,
    )
    async def get_assignment(assignment_id: AssignmentId, agency: AgencyKey) -> AssignmentDetail:
        return await handoff.detail(agency.subject, assignment_id)

    @router.post(
        "/assignments/{assignment_id}/ack", summary="Acknowledge the assignment", responses=ENDED
    )
    async def acknowledge(assignment_id: AssignmentId, agency: AgencyKey) -> AssignmentItem:
        return await handoff.acknowledge(agency.subject, assignment_id)

    @router.post(
        "/assignments/{assignment_id}/activities",
        summary="Report a contact attempt or a note (idempotent on activity_id)",
        status_code=201,
        responses=ENDED
        | repeated(ActivityRecorded, "activity")
        | {409: {"description": "This activity id was recorded with other content"}},
    )
    async def report_activity(
        assignment_id: AssignmentId, body: ActivityReport, agency: AgencyKey, response: Response
    ) -> ActivityRecorded:
        recorded = await handoff.activity(agency.subject, assignment_id, body)
        if recorded.replayed:
            response.status_code = 200
        return recorded

    @router.post(
        "/assignments/{assignment_id}/return", summary="Hand the loan back", responses=ENDED
    )
    async def return_assignment(
        assignment_id: AssignmentId, body: ReturnRequest, agency: AgencyKey
    ) -> AssignmentItem:
        return await handoff.give_back(agency.subject, assignment_id, body.reason)

    @router.post(
        "/assignments/{assignment_id}/contact-check",
        summary="May the agency make this contact (a call, a visit ...) at this time?",
        responses=ENDED,
    )
    async def contact_check(
        assignment_id: AssignmentId, body: ContactCheckRequest, agency: AgencyKey
    ) -> ContactCheckAnswer:
        at = body.at or datetime.now(UTC)
        channel = ACTIVITY_CHANNELS[body.channel]
        return await handoff.contact_check(agency.subject, assignment_id, channel, at)

    return router


LISTED = (
    "assignment_id",
    "loan_id",
    "status",
    "placed_at",
    "ack_due_at",
    "expires_at",
    "acknowledged_at",
    "ended_at",
    "updated_at",
)
# What the list reads: the listed columns, then what the amount and the notice come from.
LISTED_COLUMNS = [assignments.c[name] for name in LISTED] + [
    assignments.c.amount,
    assignments.c.currency,
    assignments.c.notice_sent_at,
]


def listed(row: Sequence[Any]) -> dict[str, Any]:
    """A row of ``LISTED_COLUMNS`` as ``AssignmentItem`` shows it, built directly: a page of
    the list is serialised without validating each item again (the hot path agencies poll)."""
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
        raise _bad_query("cursor", "is not a cursor this API gave") from error
    if updated_at.tzinfo is None:  # this API writes the offset; a time without one is made up
        raise _bad_query("cursor", "is not a cursor this API gave")
    return updated_at, assignment_id


def _bad_query(name: str, message: str) -> ProblemError:
    return ProblemError(
        422,
        "Invalid query",
        f"{name} {message}.",
        errors=[{"field": f"query.{name}", "message": message, "code": "invalid"}],
    )
