"""``GET /v1/loans/{loan_id}/notifications`` and ``GET /v1/policies`` (lender role)."""

from dataclasses import fields
from datetime import datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.notifier.api.dependencies import Lender, Notifications, PoliciesInForce
from services.notifier.application.ports import NotificationRecord
from services.notifier.domain.policy import CadencePolicy
from shared.events.notifications import NotificationKind, NotificationStatus
from shared.http.params import LoanId
from shared.vocabulary import Channel

router = APIRouter(prefix="/v1", tags=["notifications"])


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


def _view(record: NotificationRecord) -> NotificationView:
    n = record.notification
    history = [StateChange(status=t.status, at=t.at, **t.detail) for t in record.history]
    return NotificationView.model_validate(
        {**{f.name: getattr(n, f.name) for f in fields(n)}, "history": history}
    )


@router.get(
    "/loans/{loan_id}/notifications",
    summary="A loan's reminders and notices, each with its state history",
)
async def loan_notifications(
    loan_id: LoanId, lender: Lender, notifications: Notifications
) -> LoanNotifications:
    records = await notifications.of_loan(lender.tenant, loan_id)
    return LoanNotifications(loan_id=loan_id, notifications=[_view(record) for record in records])


class Policies(BaseModel):
    policies: list[CadencePolicy] = Field(
        description="Every policy in force, as its file says; the most specific match applies."
    )


@router.get("/policies", summary="The cadence policies in force, with their versions")
async def active_policies(_lender: Lender, in_force: PoliciesInForce) -> Policies:
    return Policies(policies=list(in_force.policies))
