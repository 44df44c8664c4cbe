"""``/v1/me``: the borrower's own loan as JSON, with the token of their link as bearer."""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from services.intake.api.borrower_security import Borrower, site_of
from services.intake.application.borrower_desk import (
    BorrowerView,
    DataRequestView,
    DisputeView,
    LoanEndedError,
)
from shared.events.borrowers import DataAnswer, DataRequestKind, DisputeReason
from shared.events.limits import storable_note
from shared.events.models import ContactPreferences, InconvenientTime
from shared.events.money import Money
from shared.http.problems import ProblemError
from shared.vocabulary import Channel

router = APIRouter(
    prefix="/v1/me",
    tags=["me"],
    responses={
        410: {"description": "The link expired or was revoked"},
        429: {
            "description": "Too many refused tokens from this address; retry after "
            "`Retry-After` seconds"
        },
    },
)

DETAILS_MAX = 2000
Details = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=DETAILS_MAX, strict=True),
    AfterValidator(storable_note),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HeldBy(BaseModel):
    agency_id: str
    name: str
    phone: str | None = Field(default=None, description="How to reach the agency")


class DisputeOut(BaseModel):
    dispute_id: str
    reason: DisputeReason
    status: str = Field(description="open, upheld or rejected")
    source: str = Field(description="borrower (filed here) or agency (reported by the agency)")
    opened_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, view: DisputeView) -> "DisputeOut":
        return cls(
            dispute_id=view.dispute_id,
            reason=view.reason,
            status=view.status,
            source=view.source,
            opened_at=view.opened_at,
            resolved_at=view.resolved_at,
        )


class NoticeOut(BaseModel):
    at: datetime
    channel: Channel
    kind: str


class DataRequestOut(BaseModel):
    request_id: str
    kind: DataRequestKind
    status: str = Field(
        description="pending; ready once every service has answered; erased when a later "
        "deletion request erased the copy of its answers"
    )
    requested_at: datetime
    due_by: datetime

    @classmethod
    def of(cls, view: DataRequestView) -> "DataRequestOut":
        return cls(
            request_id=view.request_id,
            kind=view.kind,
            status=view.status,
            requested_at=view.requested_at,
            due_by=view.due_by,
        )


class DataRequestDetail(DataRequestOut):
    answers: list[DataAnswer] = Field(
        description="When ready: each service's answer (access: personal data, with whom it "
        "was shared, contacts made; deletion: each category erased or kept, why and until when)"
    )

    @classmethod
    def of(cls, view: DataRequestView) -> "DataRequestDetail":
        answers = list(view.answers) if view.status == "ready" else []
        return cls(**DataRequestOut.of(view).model_dump(), answers=answers)


class Me(BaseModel):
    loan_id: str
    lender_id: str
    lender_name: str
    amount_overdue: Money
    overdue_since: date
    days_past_due: int
    status: str = Field(description="The loan's status: overdue, on_hold, cured, closed ...")
    held_by: HeldBy | None = Field(description="The agency holding the account; null: the lender")
    preferences: ContactPreferences
    disputes: list[DisputeOut]
    notices: list[NoticeOut]
    data_requests: list[DataRequestOut]

    @classmethod
    def of(cls, view: BorrowerView) -> "Me":
        held = view.held_by
        return cls(
            loan_id=view.loan_id,
            lender_id=view.lender_id,
            lender_name=view.lender_name,
            amount_overdue=view.amount_overdue,
            overdue_since=view.overdue_since,
            days_past_due=view.days_past_due,
            status=view.status,
            held_by=None if held is None else HeldBy(**held.__dict__),
            preferences=view.preferences,
            disputes=[DisputeOut.of(d) for d in view.disputes],
            notices=[NoticeOut(at=n.at, channel=n.channel, kind=n.kind) for n in view.notices],
            data_requests=[DataRequestOut.of(r) for r in view.data_requests],
        )


class DisputeRequest(Strict):
    reason: DisputeReason
    details: Details = ""


class DisputeFiled(BaseModel):
    dispute_id: str
    status: str = "open"
    reason: DisputeReason
    opened_at: datetime


class PreferencesChange(Strict):
    opted_out_channels: list[Channel] = Field(default_factory=list, max_length=len(Channel))
    inconvenient_times: list[InconvenientTime] = Field(default_factory=list, max_length=14)

    def unique_channels(self) -> list[Channel]:
        return list(dict.fromkeys(self.opted_out_channels))


class DataRequestAsked(Strict):
    kind: DataRequestKind


LOAN_ENDED = ProblemError(409, "Conflict", "The loan is closed: there is nothing left to act on.")


@router.get("", response_model=Me, summary="The borrower's loan, as their link shows it")
async def get_me(request: Request, claims: Borrower) -> Me:
    return Me.of(await site_of(request).desk.view(claims))


@router.post(
    "/disputes",
    status_code=201,
    response_model=DisputeFiled,
    summary="Dispute the debt: the loan is held at once until the lender resolves it",
    responses={409: {"description": "The loan is closed"}},
)
async def open_dispute(request: Request, claims: Borrower, body: DisputeRequest) -> DisputeFiled:
    try:
        dispute = await site_of(request).desk.open_dispute(claims, body.reason, body.details)
    except LoanEndedError:
        raise LOAN_ENDED from None
    return DisputeFiled(
        dispute_id=dispute.dispute_id,
        status=dispute.status,
        reason=dispute.reason,
        opened_at=dispute.opened_at,
    )


@router.put(
    "/contact-preferences",
    response_model=ContactPreferences,
    summary="Replace the channels the borrower opted out of and their inconvenient times",
    responses={409: {"description": "The loan is closed"}},
)
async def put_contact_preferences(
    request: Request, claims: Borrower, body: PreferencesChange
) -> ContactPreferences:
    try:
        return await site_of(request).desk.set_preferences(
            claims, body.unique_channels(), list(body.inconvenient_times)
        )
    except LoanEndedError:
        raise LOAN_ENDED from None


@router.post(
    "/data-requests",
    status_code=202,
    response_model=DataRequestOut,
    summary="Ask to see (access) or erase (deletion) the personal data held about the borrower",
)
async def request_data(
    request: Request, claims: Borrower, body: DataRequestAsked
) -> DataRequestOut:
    return DataRequestOut.of(await site_of(request).desk.request_data(claims, body.kind))


@router.get(
    "/data-requests/{request_id}",
    response_model=DataRequestDetail,
    summary="A data request of the borrower's, with its answers once ready",
    responses={404: {"description": "No such request of this borrower"}},
)
async def get_data_request(
    request: Request,
    claims: Borrower,
    request_id: Annotated[str, StringConstraints(max_length=64)],
) -> DataRequestDetail:
    found = await site_of(request).desk.data_request(claims, request_id)
    if found is None:
        raise ProblemError(404, "Not found", "No such data request.")
    return DataRequestDetail.of(found)
