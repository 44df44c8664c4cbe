"""Borrowers' contact preferences: opt-outs, cease requests, inconvenient times, attorney
representation and consent records."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.api.idempotency import respond_once
from services.intake.lifecycle import LoanLifecycle
from services.intake.schemas import IDENTIFIER_PATTERN, PreferencesAccepted, PreferencesRequest
from shared.auth import Principal, Role
from shared.runtime import ServiceRuntime

BorrowerId = Annotated[str, Path(pattern=IDENTIFIER_PATTERN, description="The lender's id")]


def borrowers_router(runtime: ServiceRuntime, lifecycle: LoanLifecycle) -> APIRouter:
    router = APIRouter(prefix="/v1/borrowers", tags=["borrowers"])
    require_lender = runtime.auth.require(Role.LENDER)

    @router.put(
        "/{borrower_id}/contact-preferences",
        response_model=PreferencesAccepted,
        summary="Replace a borrower's contact preferences (they apply to all their loans)",
    )
    async def put_preferences(
        borrower_id: BorrowerId,
        preferences: PreferencesRequest,
        request: Request,
        lender: Annotated[Principal, Depends(require_lender)],
    ) -> JSONResponse:
        async def operation(session: AsyncSession) -> tuple[int, PreferencesAccepted]:
            event_id, version = await lifecycle.update_preferences(
                session, lender.subject, borrower_id, preferences
            )
            return 200, PreferencesAccepted(
                event_id=event_id, borrower_id=borrower_id, version=version
            )

        return await respond_once(runtime, request, lender, None, preferences, operation)

    return router
