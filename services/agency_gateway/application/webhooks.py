"""Webhook deliveries: each attempt of what the delivery log owes an agency, retried with
exponential backoff, then given up; redelivery on the agency's request, and its log.

Signing and sending are the poster's (``adapters/webhook_poster.py``: Standard Webhooks).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import structlog

from services.agency_gateway.application.errors import FieldProblem, InvalidReportError
from services.agency_gateway.application.ports import (
    Backoff,
    Clock,
    Row,
    UnitOfWork,
    WebhookPoster,
    utc_now,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class AttemptResult:
    delivery_id: str
    attempt: int
    status_code: int | None
    error: str | None
    next_attempt_at: datetime | None  # None: delivered, or given up

    @property
    def outcome(self) -> str:
        """delivered, retrying (due again later) or given_up."""
        if self.error is None:
            return "delivered"
        return "retrying" if self.next_attempt_at is not None else "given_up"


@dataclass(frozen=True)
class WebhookDeliveries:
    unit_of_work: Callable[[], UnitOfWork]
    poster: WebhookPoster
    backoff: Backoff  # the wait after the n-th failure of a round (``shared.db.backoff.backoff``)
    max_attempts: int = 8
    clock: Clock = field(default=utc_now)

    async def attempt(self, delivery: Row) -> AttemptResult:
        """Send one claimed delivery; a failure is due again after the backoff of its round's
        attempts, or given up after ``max_attempts`` of them."""
        attempt = delivery["attempts"] + 1
        agency = delivery["agency"]
        status_code: int | None = None
        error: str | None
        if agency["webhook_url"] is None or agency["webhook_secret_sealed"] is None:
            error = "the agency has no webhook URL or secret"
        else:
            status_code, error = await self.poster.post(delivery)
        retry = None
        in_round = attempt - delivery["round_start"]
        if error is not None and in_round < self.max_attempts:
            retry = self.clock() + self.backoff(in_round)
        if error is not None:
            log.info("webhook not delivered", delivery_id=delivery["delivery_id"], error=error)
        return AttemptResult(delivery["delivery_id"], attempt, status_code, error, retry)

    async def record(self, uow: UnitOfWork, token: UUID, results: Sequence[AttemptResult]) -> None:
        """Log each attempt; a delivery changes only while the claim ``token`` still holds it
        (a redelivery asked for meanwhile stays, and so does a later claim's work)."""
        for result in results:
            await uow.deliveries.attempted(
                result.delivery_id,
                result.attempt,
                self.clock(),
                result.status_code,
                result.error,
                result.next_attempt_at,
                token=token,
            )

    async def redeliver(
        self, agency_id: str, delivery_ids: Sequence[str] | None, since: datetime | None
    ) -> int:
        """The named deliveries, or those since a time, again with a fresh round of attempts;
        how many."""
        if delivery_ids is None and since is None:
            raise InvalidReportError(
                "Nothing named",
                "Name delivery_ids, or since (a time), or both.",
                [FieldProblem("since", "or delivery_ids", "missing")],
            )
        async with self.unit_of_work() as uow:
            requeued = await uow.deliveries.redeliver(agency_id, delivery_ids, since, self.clock())
            await uow.commit()
        return requeued

    async def deliveries(self, agency_id: str, limit: int) -> list[Row]:
        async with self.unit_of_work() as uow:
            return await uow.deliveries.log(agency_id, limit)
