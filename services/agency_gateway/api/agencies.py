"""The agency registry (operator role): ``PUT /v1/agencies/{agency_id}``, ``GET /v1/agencies``.

An agency's API keys are the credential registry's (role ``agency``, tenant = the agency id):
``python -m deploy.keys issue --role agency --tenant <agency id>``; revoking one there stops it
at once. Its jurisdictions, capacity and share steer placement from the next decision on.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from services.agency_gateway.adapters.agencies import AgencyRegistry
from services.agency_gateway.adapters.webhooks import seal_secret
from services.agency_gateway.api.models import Agencies, Agency, AgencyId, AgencyRequest
from shared.auth import Principal, Role, role_required
from shared.crypto import KeyRing
from shared.db.engine import transaction
from shared.http.problems import ProblemError
from shared.runtime import ServiceRuntime

Operator = Annotated[Principal, Depends(role_required(Role.OPERATOR))]


def agencies_router(runtime: ServiceRuntime, storage: KeyRing) -> APIRouter:
    """``storage``: the gateway's data key ring, which seals the agencies' webhook secrets."""
    router = APIRouter(prefix="/v1", tags=["agencies"])

    @router.put(
        "/agencies/{agency_id}",
        summary="Register an agency, or replace its terms",
        responses={201: {"model": Agency, "description": "The agency was registered anew"}},
    )
    async def put_agency(
        agency_id: AgencyId, body: AgencyRequest, _operator: Operator, response: Response
    ) -> Agency:
        async with transaction(runtime.sessions) as session:
            registry = AgencyRegistry(session)
            terms = body.model_dump(mode="json", exclude={"webhook_secret"})
            secret = body.webhook_secret
            terms["webhook_secret_sealed"] = (
                seal_secret(storage, agency_id, secret) if secret is not None else None
            )
            created = await registry.put(agency_id, terms, datetime.now(UTC))
            row = await registry.get(agency_id)
        response.status_code = 201 if created else 200
        return _agency(row)

    @router.get("/agencies", summary="Every registered agency")
    async def list_agencies(_operator: Operator) -> Agencies:
        async with transaction(runtime.sessions) as session:
            rows = await AgencyRegistry(session).all()
        return Agencies(agencies=[_agency(row) for row in rows])

    @router.get("/agencies/{agency_id}", summary="One agency's terms")
    async def get_agency(agency_id: AgencyId, _operator: Operator) -> Agency:
        async with transaction(runtime.sessions) as session:
            row = await AgencyRegistry(session).get(agency_id)
        if row is None:
            raise ProblemError(404, "Agency not found", f"No agency {agency_id!r} is registered.")
        return _agency(row)

    return router


def _agency(row: dict[str, Any] | None) -> Agency:
    assert row is not None  # written in the same transaction
    return Agency.model_validate(
        {**row, "webhook_secret_set": row["webhook_secret_sealed"] is not None}
    )
