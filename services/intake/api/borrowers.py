"""Borrowers' contact preferences: opt-outs, cease requests, inconvenient times, attorney
representation and consent records."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.intake.api.dependencies import Commands, Lender
from services.intake.api.idempotency import reply, submit
from services.intake.api.schemas import (
    PreferencesAccepted,
    PreferencesRequest,
)
from services.intake.application.command_bus import Reply
from services.intake.application.handlers import PreferencesRecorded
from shared.http.params import BorrowerId

router = APIRouter(prefix="/v1/borrowers", tags=["borrowers"])


@router.put(
    "/{borrower_id}/contact-preferences",
    response_model=PreferencesAccepted,
    summary="Replace a borrower's contact preferences (they apply to all their loans)",
)
async def put_preferences(
    borrower_id: BorrowerId,
    preferences: PreferencesRequest,
    request: Request,
    lender: Lender,
    bus: Commands,
) -> JSONResponse:
    def present(recorded: PreferencesRecorded) -> Reply:
        body = PreferencesAccepted(
            event_id=recorded.event_id, borrower_id=borrower_id, version=recorded.version
        )
        return reply(200, body)

    command = preferences.command(borrower_id)
    return await submit(bus, request, lender, None, preferences, command, present)
