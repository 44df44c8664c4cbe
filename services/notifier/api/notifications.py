"""``GET /v1/loans/{loan_id}/notifications`` and ``GET /v1/policies`` (lender role)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.notifier.adapters.tables import loans, notification_history, notifications
from services.notifier.domain.policy import CadencePolicy
from services.notifier.domain.policy_book import PolicyBook
from shared.auth import Principal, Role, role_required
from shared.db.engine import transaction
from shared.events.notifications import NotificationKind, NotificationStatus
from shared.http.params import LoanId
from shared.http.problems import ProblemError
from shared.runtime import ServiceRuntime
from shared.vocabulary import Channel

router = APIRouter(prefix="/v1", tags=["notifications"])
Lender = Annotated[Principal, Depends(role_required(Role.LENDER))]


class StateChange(BaseModel):
    status: NotificationStatus
    at: datetime
    reason: str | None = None
    rule_ids: list[str] = Field(default_factory=list)
    next_allowed_at: datetime | None = None
    provider: str | None = None
    provider_message_id: str | None = None


class NotificationView(BaseModel):
    id: UUID
    kind: NotificationKind
    step: int | None = Field(description="The cadence step (1-based); none for a notice.")
    channel: Channel
    template: str
    locale: str
    policy_id: str
    policy_version: str
    pack_version: str | None = Field(description="The rule pack that last judged it.")
    status: NotificationStatus
    due_at: datetime
    attempts: int
    rule_ids: list[str] = Field(description="The rules that suppressed it, when they did.")
    next_allowed_at: datetime | None
    reason: str | None = Field(description="Why it was cancelled, suppressed or failed.")
    provider: str | None
    provider_message_id: str | None
    agency_id: str | None
    history: list[StateChange]


class LoanNotifications(BaseModel):
    loan_id: str
    notifications: list[NotificationView]


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def _policies(request: Request) -> PolicyBook:
    book: PolicyBook = request.app.state.policies
    return book


@router.get(
    "/loans/{loan_id}/notifications",
    summary="A loan's reminders and notices, each with its state history",
)
async def loan_notifications(
    loan_id: LoanId, lender: Lender, runtime: Annotated[ServiceRuntime, Depends(_runtime)]
) -> LoanNotifications:
    async with transaction(runtime.sessions) as session:
        known = await session.scalar(
            select(loans.c.loan_id).where(
                loans.c.lender_id == lender.subject, loans.c.loan_id == loan_id
            )
        )
        if known is None:
            raise ProblemError(404, "Loan not found", f"No loan {loan_id!r} is known here.")
        rows = (
            (
                await session.execute(
                    select(notifications)
                    .where(
                        notifications.c.lender_id == lender.subject,
                        notifications.c.loan_id == loan_id,
                    )
                    .order_by(notifications.c.due_at, notifications.c.id)
                )
            )
            .mappings()
            .all()
        )
        history = await _history(session, [row["id"] for row in rows])
    return LoanNotifications(
        loan_id=loan_id,
        notifications=[
            NotificationView.model_validate({**row, "history": history.get(row["id"], [])})
            for row in rows
        ],
    )


async def _history(session: Any, ids: Sequence[UUID]) -> dict[UUID, list[StateChange]]:
    if not ids:
        return {}
    rows = await session.execute(
        select(notification_history)
        .where(notification_history.c.notification_id.in_(ids))
        .order_by(notification_history.c.seq)
    )
    found: dict[UUID, list[StateChange]] = {}
    for row in rows.mappings():
        change = StateChange(status=row["status"], at=row["at"], **row["detail"])
        found.setdefault(row["notification_id"], []).append(change)
    return found


class Policies(BaseModel):
    policies: list[CadencePolicy] = Field(
        description="Every policy in force, as its file says; the most specific match applies."
    )


@router.get("/policies", summary="The cadence policies in force, with their versions")
async def active_policies(
    _lender: Lender, book: Annotated[PolicyBook, Depends(_policies)]
) -> Policies:
    return Policies(policies=list(book.policies))
