"""The webhook delivery log: what is owed to each agency, each attempt, and redelivery."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.tables import agencies, webhook_attempts, webhook_deliveries
from services.agency_gateway.domain.webhooks import announced, payload
from shared.crypto import KeyRing
from shared.db.bulk import insert_rows
from shared.db.jobs import JobQueue
from shared.db.reseal import SealedColumn
from shared.db.retention import RetentionRule
from shared.events.envelope import Envelope
from shared.observability.tracing import Carrier, carrier_for

QUEUE = JobQueue(webhook_deliveries)  # leased claims with a fencing token
SECRET = SealedColumn(agencies, "webhook_secret_sealed", bound_to=("agency_id",))


def webhook_log_rules(window: timedelta) -> list[RetentionRule]:
    """Settled deliveries (delivered or failed) and attempts older than ``window`` go; a
    pending delivery stays whatever its age."""
    return [
        RetentionRule(
            "webhook_deliveries",
            "webhook_deliveries",
            "status <> 'pending' AND created_at < :cutoff",
            window,
        ),
        RetentionRule("webhook_attempts", "webhook_attempts", "at < :cutoff", window),
    ]


def seal_secret(ring: KeyRing, agency_id: str, secret: str) -> dict[str, str]:
    return SECRET.seal(ring, secret.encode(), {"agency_id": agency_id})


class DeliveryLog:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def owe(
        self,
        events: Sequence[tuple[str, dict[str, Any]]],
        now: datetime,
        traces: Sequence[Carrier | None] | None = None,
    ) -> None:
        """A delivery of each (webhook event, data) to the agency it names, if it has a URL,
        with the trace context its post continues (``traces``, one per event; by default the
        current one)."""
        ids = {data["agency_id"] for _, data in events}
        if not ids:
            return
        hooked = set(
            (
                await self._session.execute(
                    select(agencies.c.agency_id).where(
                        agencies.c.agency_id.in_(ids), agencies.c.webhook_url.is_not(None)
                    )
                )
            ).scalars()
        )
        rows = []
        if traces is None:
            traces = [carrier_for()] * len(events)
        for (event, data), trace in zip(events, traces, strict=True):
            if data["agency_id"] in hooked:
                delivery_id = f"wh-{uuid4().hex}"
                rows.append(
                    {
                        "delivery_id": delivery_id,
                        "agency_id": data["agency_id"],
                        "event": event,
                        "assignment_id": data["assignment_id"],
                        "body": payload(event, delivery_id, data),
                        "status": "pending",
                        "attempts": 0,
                        "round_start": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                        "traceparent": trace[0] if trace else None,
                        "tracestate": trace[1] if trace else None,
                    }
                )
        await insert_rows(self._session, webhook_deliveries, rows)

    async def owe_for(self, envelopes: Sequence[Envelope], now: datetime) -> None:
        """Deliveries of the events agencies are told of, each continuing its event's trace."""
        owed = [(event, e) for e in envelopes if (event := announced(e)) is not None]
        await self.owe(
            [(event, e.data) for event, e in owed], now, [carrier_for(e.key) for _, e in owed]
        )

    async def claim_due(
        self, now: datetime, limit: int, lease: timedelta, token: UUID
    ) -> list[dict[str, Any]]:
        """Due deliveries with their agency's URL and sealed secret, claimed under ``token``
        for ``lease`` (``shared.db.jobs``): nobody else takes them until it ends, so a crash
        mid-send only delays them."""
        rows = await QUEUE.claim_rows(
            self._session,
            webhook_deliveries.c.status == "pending",
            webhook_deliveries.c.next_attempt_at <= now,
            order_by=[webhook_deliveries.c.next_attempt_at],
            limit=limit,
            lease=lease,
            token=token,
        )
        if not rows:
            return []
        hooks = await self._session.execute(
            select(agencies).where(agencies.c.agency_id.in_({r["agency_id"] for r in rows}))
        )
        by_agency = {h.agency_id: dict(h._mapping) for h in hooks}
        due = sorted(rows, key=lambda r: r["next_attempt_at"])
        return [dict(r) | {"agency": by_agency[r["agency_id"]]} for r in due]

    async def attempted(
        self,
        delivery_id: str,
        attempt: int,
        at: datetime,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
        *,
        token: UUID,
    ) -> None:
        """Log an attempt; delivered on a 2xx, else due again at ``next_attempt_at`` or given
        up (``failed``) when that is None. The delivery changes only while the claim ``token``
        still holds it: one the agency asked for again while this attempt was in flight
        (its claim dropped), or whose lease ran out, keeps what happened since; the attempt
        is only logged."""
        delivered = status_code is not None and 200 <= status_code < 300
        status = "delivered" if delivered else ("pending" if next_attempt_at else "failed")
        await insert_rows(
            self._session,
            webhook_attempts,
            [
                {
                    "delivery_id": delivery_id,
                    "attempt": attempt,
                    "at": at,
                    "status_code": status_code,
                    "error": error,
                }
            ],
        )
        await self._session.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.delivery_id == delivery_id, QUEUE.held_by(token))
            .values(
                status=status,
                attempts=attempt,
                next_attempt_at=None if delivered else next_attempt_at,
                last_status_code=status_code,
                last_error=error,
                delivered_at=at if delivered else None,
                lease_until=None,
                claim_token=None,
            )
        )

    async def redeliver(
        self,
        agency_id: str,
        delivery_ids: Sequence[str] | None,
        since: datetime | None,
        now: datetime,
    ) -> int:
        """Send the agency's deliveries again (the named ones, or those since a time), with a
        fresh round of attempts; the log keeps every earlier attempt."""
        query = update(webhook_deliveries).where(webhook_deliveries.c.agency_id == agency_id)
        if delivery_ids is not None:
            query = query.where(webhook_deliveries.c.delivery_id.in_(delivery_ids))
        if since is not None:
            query = query.where(webhook_deliveries.c.created_at >= since)
        result = await self._session.execute(
            query.values(
                status="pending",
                next_attempt_at=now,
                round_start=webhook_deliveries.c.attempts,
                lease_until=None,  # an attempt in flight no longer counts
                claim_token=None,
            ).returning(webhook_deliveries.c.delivery_id)
        )
        return len(result.all())

    async def log(self, agency_id: str, limit: int) -> list[dict[str, Any]]:
        rows = await self._session.execute(
            select(webhook_deliveries)
            .where(webhook_deliveries.c.agency_id == agency_id)
            .order_by(webhook_deliveries.c.created_at.desc())
            .limit(limit)
        )
        deliveries = [dict(r._mapping) for r in rows]
        if deliveries:
            attempts = await self._session.execute(
                select(webhook_attempts)
                .where(webhook_attempts.c.delivery_id.in_([d["delivery_id"] for d in deliveries]))
                .order_by(webhook_attempts.c.attempt)
            )
            by_delivery: dict[str, list[dict[str, Any]]] = {}
            for attempt in attempts:
                by_delivery.setdefault(attempt.delivery_id, []).append(dict(attempt._mapping))
            for delivery in deliveries:
                delivery["log"] = by_delivery.get(delivery["delivery_id"], [])
        return deliveries
