"""Intake and the agency gateway on real Kafka and PostgreSQL, with two registered agencies;
what the notifier would publish is put on its topic directly."""

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from shared.auth import Role
from shared.events.catalog import EventType
from shared.events.envelope import Envelope
from shared.events.topics import Topic
from tests.harness import Infrastructure, RunningPlatform, eventually, running_platform
from tests.support.factories import report

NORTH, SOUTH = "agency-north", "agency-south"  # the demo agencies: their keys are issued


@dataclass
class GatewayStack:
    platform: RunningPlatform
    bootstrap: str
    operator: dict[str, str] | None = None

    @property
    def intake(self) -> httpx.AsyncClient:
        return self.platform.clients["intake"]

    @property
    def gateway(self) -> httpx.AsyncClient:
        return self.platform.clients["agency_gateway"]

    @property
    def lender_id(self) -> str:
        return self.platform.credentials.lender["id"]

    def agency(self, agency_id: str) -> dict[str, str]:
        for credential in self.platform.credentials.agencies:
            if credential["id"] == agency_id:
                return {"Authorization": f"Bearer {credential['api_key']}"}
        raise KeyError(agency_id)

    async def lender(self, method: str, path: str, **body: Any) -> httpx.Response:
        headers = {**self.platform.as_lender(), "Idempotency-Key": uuid4().hex}
        answer = await self.intake.request(method, path, json=body or None, headers=headers)
        assert answer.status_code < 300, answer.text
        return answer

    async def report(
        self,
        loan_id: str | None = None,
        days: int = 50,
        as_of: str = "2026-12-01T09:00:00+08:00",
        **changes: Any,
    ) -> str:
        """A report of a loan ``days`` past due on ``as_of``; its loan id."""
        loan_id = loan_id or f"L-{uuid4().hex[:12]}"
        await self.lender("POST", "/v1/overdue-loans", **aged(loan_id, days, as_of, **changes))
        return loan_id

    async def placement(self, loan_id: str) -> dict[str, Any] | None:
        answer = await self.gateway.get(
            f"/v1/loans/{loan_id}/placement", headers=self.platform.as_lender()
        )
        if answer.status_code == 404:
            return None
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    async def settled(self, loan_id: str, status: str) -> dict[str, Any]:
        """The loan's placement once the placement worker decided it to ``status`` (a case
        opens with a status by its age alone and no note; every decision but a placement
        leaves a note)."""

        async def decided() -> dict[str, Any] | None:
            found = await self.placement(loan_id)
            if not found or found["status"] != status:
                return None
            return found if status == "placed" or found["note"] is not None else None

        return await eventually(decided, within=30)

    async def placed(self, loan_id: str) -> dict[str, Any]:
        """The loan's current placement, once it has one."""

        async def current() -> dict[str, Any] | None:
            found = await self.placement(loan_id)
            return found["current"] if found and found["status"] == "placed" else None

        return await eventually(current, within=30)

    async def sql(self, statement: str, **values: Any) -> None:
        runtime = self.platform.runtime("agency_gateway")
        async with runtime.sessions() as session, session.begin():
            await session.execute(text(statement), values)

    async def publish(
        self, event_type: EventType, subject: str, data: Any, source: str = "notifier"
    ) -> Envelope:
        """What another service (the notifier; intake) publishes, straight onto its topic."""
        envelope = event_type.envelope(
            source=source, subject=subject, tenant=self.lender_id, data=data
        )
        await self.send(Topic(event_type.topic), envelope)
        return envelope

    async def send(self, topic: Topic, envelope: Envelope) -> None:
        """An event onto its topic as it is (sent again: a redelivery, the same event id)."""
        runtime = self.platform.runtime("agency_gateway")
        await runtime.producer.send_and_wait(
            runtime.topic(topic), envelope.to_bytes(), key=envelope.key.encode()
        )

    async def events(
        self, topic: Topic, loan_id: str, until: Callable[[list[Envelope]], bool]
    ) -> list[Envelope]:
        """The loan's events on a topic, read from the start until ``until`` holds."""
        consumer = AIOKafkaConsumer(
            topic.qualified(self.platform.namespace),
            bootstrap_servers=self.bootstrap,
            group_id=f"reader-{uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        found: list[Envelope] = []
        deadline = time.monotonic() + 30
        try:
            while not until(found):
                assert time.monotonic() < deadline, f"only {[e.type for e in found]}"
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        assert record.value is not None
                        envelope = Envelope.model_validate_json(record.value)
                        if envelope.subject == loan_id:
                            found.append(envelope)
        finally:
            await consumer.stop()
        return found

    async def register(self, agency_id: str, **terms: Any) -> None:
        if self.operator is None:
            issued = await self.platform.issue(Role.OPERATOR, "operator-tests", "gateway tests")
            self.operator = {"Authorization": f"Bearer {issued.api_key}"}
        body = {"name": agency_id.title(), "jurisdictions": ["CN"], "capacity": 100_000, "share": 1}
        answer = await self.gateway.put(
            f"/v1/agencies/{agency_id}", json=body | terms, headers=self.operator
        )
        assert answer.status_code in (200, 201), answer.text


def aged(
    loan_id: str, days: int = 50, as_of: str = "2026-12-01T09:00:00+08:00", **changes: Any
) -> dict[str, Any]:
    """The example report of a loan ``days`` past due on ``as_of``."""
    due = datetime.fromisoformat(as_of).date() - timedelta(days=days)
    return report(loan_id, days_past_due=days, due_date=due.isoformat(), as_of=as_of, **changes)


def gateway_options(**more: Any) -> dict[str, dict[str, Any]]:
    """The gateway's settings in tests: quick workers and webhook retries, and ``more``."""
    return {
        "agency_gateway": {
            "placement_idle_seconds": 0.05,
            "webhook_idle_seconds": 0.05,
            "webhook_initial_backoff_seconds": 0.2,
            "webhook_max_attempts": 4,
            **more,
        }
    }


@asynccontextmanager
async def gateway_stack(infrastructure: Infrastructure, **more: Any) -> AsyncIterator[GatewayStack]:
    """Intake and the gateway; ``more`` of the gateway's settings."""
    options = gateway_options(**more)
    async with running_platform(infrastructure, ("intake", "agency_gateway"), options) as platform:
        yield GatewayStack(platform, infrastructure.kafka_bootstrap)
