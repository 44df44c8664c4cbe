"""Signed POSTs of webhook deliveries, per Standard Webhooks (``standardwebhooks``).

``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256 of
id.timestamp.body>`` under the agency's secret (sealed at rest, opened here). A receiver
refuses a timestamp more than five minutes off (the library's check) and a ``webhook-id`` it
has seen (redeliveries keep their id): no replay.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook

from services.agency_gateway.adapters.webhooks import SECRET
from shared.crypto import KeyRing
from shared.observability.tracing import continuing


@dataclass(frozen=True)
class SignedWebhookPoster:
    client: httpx.AsyncClient
    storage: KeyRing  # opens the agencies' webhook secrets

    async def post(self, delivery: Mapping[str, Any]) -> tuple[int | None, str | None]:
        """The answer's status code, and the error (non-2xx or the network's), if any; in a
        ``webhook <event>`` span continuing the trace of the event it announces."""
        parent = delivery.get("traceparent")
        trace = (parent, delivery.get("tracestate")) if parent else None
        attributes = {"webhook.delivery_id": delivery["delivery_id"]}
        with continuing(trace, f"webhook {delivery['event']}", attributes):
            return await self._post(delivery)

    async def _post(self, delivery: Mapping[str, Any]) -> tuple[int | None, str | None]:
        agency = delivery["agency"]
        body = json.dumps(delivery["body"], separators=(",", ":"), ensure_ascii=False)
        secret = SECRET.open(self.storage, agency).decode()
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery["delivery_id"],
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(delivery["delivery_id"], now, body),
        }
        try:
            answer = await self.client.post(
                agency["webhook_url"], content=body.encode(), headers=headers
            )
        except httpx.HTTPError as failure:
            return None, f"{type(failure).__name__}: {failure}"
        if not answer.is_success:
            return answer.status_code, f"HTTP {answer.status_code}"
        return answer.status_code, None
