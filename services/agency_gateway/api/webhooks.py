"""The agency's webhook deliveries: ``POST /v1/webhooks/redeliver`` and the delivery log."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.agency_gateway.adapters.webhooks import DeliveryLog
from services.agency_gateway.api.models import (
    Redelivery,
    RedeliveryRequest,
    WebhookDeliveries,
    WebhookDelivery,
)
from shared.auth import Principal, Role, role_required
from shared.db.engine import transaction
from shared.http.problems import ProblemError
from shared.runtime import ServiceRuntime

AgencyKey = Annotated[Principal, Depends(role_required(Role.AGENCY))]


def webhooks_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["webhooks"])

    @router.post("/webhooks/redeliver", summary="Send the agency's webhooks again")
    async def redeliver_webhooks(body: RedeliveryRequest, agency: AgencyKey) -> Redelivery:
        if body.delivery_ids is None and body.since is None:
            raise ProblemError(
                422,
                "Nothing named",
                "Name delivery_ids, or since (a time), or both.",
                errors=[{"field": "body.since", "message": "or delivery_ids", "code": "missing"}],
            )
        async with transaction(runtime.sessions) as session:
            requeued = await DeliveryLog(session).redeliver(
                agency.subject, body.delivery_ids, body.since, datetime.now(UTC)
            )
        return Redelivery(requeued=requeued)

    @router.get("/webhooks/deliveries", summary="The agency's webhook deliveries, newest first")
    async def list_webhook_deliveries(
        agency: AgencyKey, limit: Annotated[int, Query(ge=1, le=500)] = 100
    ) -> WebhookDeliveries:
        async with transaction(runtime.sessions) as session:
            rows = await DeliveryLog(session).log(agency.subject, limit)
        return WebhookDeliveries(deliveries=[WebhookDelivery.model_validate(r) for r in rows])

    return router
