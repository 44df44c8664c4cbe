"""The webhook sender: signed POSTs of what the delivery log owes agencies, retried with
exponential backoff, each attempt logged.

Signatures follow Standard Webhooks (``standardwebhooks``): ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>``
under the agency's secret. A receiver refuses a timestamp more than five minutes off (the
library's check) and a ``webhook-id`` it has seen (redeliveries keep their id): no replay.
"""

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from standardwebhooks import Webhook

from services.agency_gateway.adapters.webhooks import SECRET, DeliveryLog
from services.agency_gateway.domain.webhooks import backoff
from shared.crypto import KeyRing
from shared.db.engine import SessionFactory, transaction

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    delivery_id: str
    attempt: int
    status_code: int | None
    error: str | None
    next_attempt_at: datetime | None


@dataclass
class WebhookSender:
    sessions: SessionFactory
    storage: KeyRing  # opens the agencies' webhook secrets
    client: httpx.AsyncClient
    max_attempts: int = 8
    initial_backoff: timedelta = timedelta(seconds=2)
    max_backoff: timedelta = timedelta(minutes=10)
    lease: timedelta = timedelta(seconds=60)
    batch_size: int = 100
    idle_pause: float = 0.5

    async def run(self) -> None:
        while True:
            if await self.deliver_due() == 0:
                await asyncio.sleep(self.idle_pause)

    async def deliver_due(self) -> int:
        async with transaction(self.sessions) as session:
            due = await DeliveryLog(session).claim_due(
                datetime.now(UTC), self.batch_size, self.lease
            )
        if not due:
            return 0
        outcomes = await asyncio.gather(*(self._send(delivery) for delivery in due))
        async with transaction(self.sessions) as session:
            book = DeliveryLog(session)
            for delivery, outcome in zip(due, outcomes, strict=True):
                await book.attempted(
                    outcome.delivery_id,
                    outcome.attempt,
                    datetime.now(UTC),
                    outcome.status_code,
                    outcome.error,
                    outcome.next_attempt_at,
                    leased_until=delivery["next_attempt_at"],
                )
        return len(due)

    async def _send(self, delivery: dict[str, Any]) -> Outcome:
        attempt = delivery["attempts"] + 1
        agency = delivery["agency"]
        status_code: int | None = None
        error: str | None = None
        if agency["webhook_url"] is None or agency["webhook_secret_sealed"] is None:
            error = "the agency has no webhook URL or secret"
        else:
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
                status_code = answer.status_code
                if not answer.is_success:
                    error = f"HTTP {status_code}"
            except httpx.HTTPError as failure:
                error = f"{type(failure).__name__}: {failure}"
        retry = None
        if error is not None and attempt - delivery["round_start"] < self.max_attempts:
            wait = backoff(
                attempt - delivery["round_start"], self.initial_backoff, self.max_backoff
            )
            retry = datetime.now(UTC) + wait
        if error is not None:
            log.info("webhook not delivered", delivery_id=delivery["delivery_id"], error=error)
        return Outcome(delivery["delivery_id"], attempt, status_code, error, retry)
