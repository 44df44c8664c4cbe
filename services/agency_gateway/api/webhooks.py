"""The agency's webhook deliveries: ``POST /v1/webhooks/redeliver`` and the delivery log."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.agency_gateway.api.dependencies import AgencyKey, Webhooks
from services.agency_gateway.api.models import (
    Redelivery,
    RedeliveryRequest,
    WebhookDeliveries,
    WebhookDelivery,
)

router = APIRouter(prefix="/v1", tags=["webhooks"])


@router.post("/webhooks/redeliver", summary="Send the agency's webhooks again")
async def redeliver_webhooks(
    body: RedeliveryRequest, agency: AgencyKey, webhooks: Webhooks
) -> Redelivery:
    requeued = await webhooks.redeliver(agency.tenant, body.delivery_ids, body.since)
    return Redelivery(requeued=requeued)


@router.get("/webhooks/deliveries", summary="The agency's webhook deliveries, newest first")
async def list_webhook_deliveries(
    agency: AgencyKey, webhooks: Webhooks, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> WebhookDeliveries:
    rows = await webhooks.deliveries(agency.tenant, limit)
    return WebhookDeliveries(deliveries=[WebhookDelivery.model_validate(r) for r in rows])
