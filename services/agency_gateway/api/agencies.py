"""The agency registry (operator role): ``PUT /v1/agencies/{agency_id}``, ``GET /v1/agencies``.

An agency's API keys are the credential registry's (role ``agency``, tenant = the agency id):
``collections keys issue --role agency --tenant <agency id>``; revoking one there stops it
at once. Its jurisdictions, capacity and share steer placement from the next decision on.
"""

from typing import Any

from fastapi import APIRouter, Response

from services.agency_gateway.api.dependencies import Agencies as Registry
from services.agency_gateway.api.dependencies import OperatorKey
from services.agency_gateway.api.models import Agencies, Agency, AgencyId, AgencyRequest

router = APIRouter(prefix="/v1", tags=["agencies"])


@router.put(
    "/agencies/{agency_id}",
    summary="Register an agency, or replace its terms",
    responses={201: {"model": Agency, "description": "The agency was registered anew"}},
)
async def put_agency(
    agency_id: AgencyId,
    body: AgencyRequest,
    _operator: OperatorKey,
    registry: Registry,
    response: Response,
) -> Agency:
    terms = body.model_dump(mode="json", exclude={"webhook_secret"})
    row, created = await registry.put(agency_id, terms, body.webhook_secret)
    response.status_code = 201 if created else 200
    return _agency(row)


@router.get("/agencies", summary="Every registered agency")
async def list_agencies(_operator: OperatorKey, registry: Registry) -> Agencies:
    return Agencies(agencies=[_agency(row) for row in await registry.all()])


@router.get("/agencies/{agency_id}", summary="One agency's terms")
async def get_agency(agency_id: AgencyId, _operator: OperatorKey, registry: Registry) -> Agency:
    return _agency(await registry.get(agency_id))


def _agency(row: dict[str, Any]) -> Agency:
    return Agency.model_validate(
        {**row, "webhook_secret_set": row["webhook_secret_sealed"] is not None}
    )
