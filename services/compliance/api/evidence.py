"""A loan's evidence bundle (``application/evidence.py``): the lender's own loans, and an
auditor's in its scope (``lender_id`` as the timeline takes it)."""

from fastapi import APIRouter
from fastapi.responses import Response

from services.compliance.api.dependencies import (
    ConsistentReads,
    Evidence,
    LenderOrAuditor,
    own_lender,
)
from services.compliance.api.paging import OTHER_LENDER, LenderQuery
from services.compliance.application.scope import lender_in_scope
from shared.http.params import LoanId

router = APIRouter(prefix="/v1", tags=["evidence"])


@router.get(
    "/loans/{loan_id}/evidence",
    summary="A zip a court can verify offline: statement, entries, signed checkpoint, proofs, key",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {}}, "description": "The evidence bundle."},
        **OTHER_LENDER,
    },
)
async def loan_evidence(
    loan_id: LoanId,
    caller: LenderOrAuditor,
    consistent_reads: ConsistentReads,
    evidence: Evidence,
    lender_id: LenderQuery = None,
) -> Response:
    """``statement.pdf`` (Chinese and English), ``entries.jsonl``, ``checkpoint`` (C2SP signed
    note), ``proofs.json`` (RFC 9162 inclusion proofs at the checkpoint's size),
    ``public-key`` and ``VERIFY.md``. A lender sees its own loans only (another's is 404)."""
    lender = lender_in_scope(own_lender(caller), lender_id, naming_a_loan=True)
    assert lender is not None  # naming a loan, a lender is always known here
    async with consistent_reads() as read:
        archive = await evidence.bundle(read, lender, loan_id)
    return Response(
        archive,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{loan_id}.zip"'},
    )
