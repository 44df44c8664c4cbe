"""The lender's answers to the borrower's side: resolving disputes, revoking borrower links."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.responses import JSONResponse

from services.intake.api.dependencies import Commands, Lender
from services.intake.api.idempotency import IdempotencyKey, as_response, reply, submit
from services.intake.api.schemas import DisputeResponse, ResolutionRequest
from services.intake.application.command_bus import Reply
from services.intake.domain.commands import RevokeBorrowerLinks
from services.intake.domain.disputes import Dispute
from shared.events.limits import IDENTIFIER_PATTERN
from shared.http.params import LoanId

DisputeId = Annotated[
    str, Path(pattern=IDENTIFIER_PATTERN, description="The dispute's id, as the loan shows it")
]

router = APIRouter(prefix="/v1/loans", tags=["disputes"])


@router.post(
    "/{loan_id}/disputes/{dispute_id}/resolution",
    response_model=DisputeResponse,
    summary="Resolve a dispute (the borrower's or an agency's): uphold or reject it",
    responses={
        404: {"description": "No such dispute on this lender's loan"},
        409: {"description": "The dispute was resolved already, or the loan's state refuses it"},
    },
)
async def resolve_dispute(
    loan_id: LoanId,
    dispute_id: DisputeId,
    resolution: ResolutionRequest,
    request: Request,
    lender: Lender,
    key: IdempotencyKey,
    bus: Commands,
) -> JSONResponse:
    def present(dispute: Dispute) -> Reply:
        return reply(200, DisputeResponse.of(dispute))

    command = resolution.command(loan_id, dispute_id)
    return await submit(bus, request, lender, key, resolution, command, present)


@router.post(
    "/{loan_id}/borrower-links/revocation",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Refuse every borrower link of the loan issued until now (links sent later work)",
    responses={404: {"description": "No such loan for this lender"}},
)
async def revoke_borrower_links(
    loan_id: LoanId, request: Request, lender: Lender, key: IdempotencyKey, bus: Commands
) -> Response:
    def present(_loan_id: str) -> Reply:
        return Reply(204, {})

    answered = await submit(bus, request, lender, key, None, RevokeBorrowerLinks(loan_id), present)
    return Response(status_code=204, headers=_replayed(answered))


def _replayed(response: JSONResponse) -> dict[str, str]:
    replayed = response.headers.get("Idempotent-Replayed")
    return {"Idempotent-Replayed": replayed} if replayed else {}


__all__ = ["as_response", "router"]
