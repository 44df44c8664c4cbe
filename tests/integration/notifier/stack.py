"""Intake and the notifier on real Kafka and PostgreSQL, with the local providers: what a
lender posts becomes what a borrower's phone receives, and the providers' signed reports come
back to the notifier over HTTP."""

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from deploy.local_providers.config import EmulatorConfig
from deploy.local_providers.server import RunningProviders, running_providers, serving
from shared.events.catalog import EventType
from shared.events.envelope import Envelope
from shared.events.topics import Topic
from tests.harness import Infrastructure, RunningPlatform, eventually, running_platform
from tests.support.factories import report

CALLBACK_TOKEN = "stack-callback-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def notifier_settings(providers: RunningProviders, receipts: str, **extra: Any) -> dict[str, Any]:
    return {
        "twilio_base_url": f"{providers.http_url}/twilio",
        "twilio_status_callback_url": f"{receipts}/twilio",
        "twilio_rate_per_second": 500.0,
        "aliyun_endpoint": f"{providers.http_url}/aliyun/",
        "aliyun_callback_token": CALLBACK_TOKEN,
        "smtp_port": providers.smtp_port,
        "smtp_ca_file": str(providers.smtp_certificate),
        "smtp_rate_per_second": 500.0,
        "retry_initial_seconds": 0.01,
        "retry_max_seconds": 0.05,
        "sender_lease_seconds": 5.0,
        **extra,
    }


def emulator_config(receipts: str, *, reports: bool = True) -> EmulatorConfig:
    """The local providers, posting to ``receipts``; with ``reports=False`` Alibaba Cloud
    pushes nothing (a notifier that never hears back)."""
    return EmulatorConfig(
        http_port=0,
        smtp_port=0,
        twilio_inbound_url=f"{receipts}/twilio",
        aliyun_push_url=f"{receipts}/aliyun?token={CALLBACK_TOKEN}" if reports else "",
        callback_delay_seconds=0.05,
        callback_retry_seconds=0.5,
        callback_attempts=20,
    )


@dataclass
class Stack:
    platform: RunningPlatform
    providers: RunningProviders
    borrower_ids: dict[str, str] = field(default_factory=dict)  # by loan id
    borrower_emails: dict[str, str] = field(default_factory=dict)  # by loan id

    @property
    def intake(self) -> httpx.AsyncClient:
        return self.platform.clients["intake"]

    @property
    def notifier(self) -> httpx.AsyncClient:
        return self.platform.clients["notifier"]

    async def report_loan(self, **borrower: Any) -> tuple[str, str]:
        """A new loan, a day overdue in the borrower's afternoon; its id and phone (its first
        reminder, already past, is caught up on at the next send time)."""
        loan_id = f"L-{uuid4().hex[:12]}"
        phone = f"+86139{uuid4().int % 10**8:08d}"
        zone = daytime_zone()
        local_now = datetime.now(UTC).astimezone(ZoneInfo(zone))
        body = report(
            loan_id,
            due_date=(local_now.date() - timedelta(days=1)).isoformat(),
            days_past_due=1,
            as_of=local_now.isoformat(),
        )
        self.borrower_ids[loan_id] = f"B-{uuid4().hex[:10]}"
        self.borrower_emails[loan_id] = f"{uuid4().hex[:8]}@example.com"
        body["borrower"] = {
            **body["borrower"],
            "id": self.borrower_ids[loan_id],
            "phone": phone,
            "email": self.borrower_emails[loan_id],
            "timezone": zone,
            **borrower,
        }
        answer = await self.intake.post(
            "/v1/overdue-loans", json=body, headers=self.platform.as_lender()
        )
        assert answer.status_code == 202, answer.text
        await eventually(lambda: self.notifications(loan_id), within=30)
        return loan_id, phone

    async def notifications(self, loan_id: str) -> list[dict[str, Any]]:
        answer = await self.notifier.get(
            f"/v1/loans/{loan_id}/notifications", headers=self.platform.as_lender()
        )
        if answer.status_code == 404:
            return []
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()["notifications"]
        return found

    async def make_due(self, loan_id: str, step: int | None = 1) -> None:
        """Time passes: the step's send time is now."""
        runtime = self.platform.runtime("notifier")
        async with runtime.sessions() as session, session.begin():
            await session.execute(
                text(
                    "UPDATE notifications SET due_at = now() "
                    "WHERE loan_id = :loan AND status = 'scheduled' "
                    "AND (CAST(:step AS integer) IS NULL OR step = :step)"
                ),
                {"loan": loan_id, "step": step},
            )

    async def publish(self, event_type: EventType, lender: str, subject: str, data: Any) -> None:
        """What another service (the agency gateway) publishes, straight onto its topic."""
        runtime = self.platform.runtime("notifier")
        envelope = event_type.envelope(source="gateway", subject=subject, tenant=lender, data=data)
        await runtime.producer.send_and_wait(
            runtime.topic(Topic(event_type.topic)),
            envelope.to_bytes(),
            key=envelope.key.encode(),
        )

    def providers_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.providers.http_url)

    async def borrower_id(self, loan_id: str) -> str:
        return self.borrower_ids[loan_id]

    async def borrower_ref(self, loan_id: str) -> str:
        ref = await self._scalar("SELECT borrower_ref FROM loans WHERE loan_id = :loan", loan_id)
        return str(ref)

    async def ledger_size(self, loan_id: str, at_least: int) -> bool:
        count = await self._scalar("SELECT count(*) FROM contacts WHERE loan_id = :loan", loan_id)
        return isinstance(count, int) and count >= at_least

    async def _scalar(self, query: str, loan_id: str) -> object:
        runtime = self.platform.runtime("notifier")
        async with runtime.sessions() as session:
            return await session.scalar(text(query), {"loan": loan_id})

    async def published_types(self, loan_id: str) -> list[str]:
        """The types of the notifier's events about a loan on its topic, in order."""
        runtime = self.platform.runtime("notifier")
        consumer = AIOKafkaConsumer(
            runtime.topic(Topic.NOTIFICATIONS),
            bootstrap_servers=runtime.settings.kafka_bootstrap_servers,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            key = f"{self.platform.credentials.lender['id']}/{loan_id}".encode()
            found: list[str] = []
            batches = await consumer.getmany(timeout_ms=1000)
            while batches:
                for records in batches.values():
                    found += [
                        Envelope.model_validate_json(r.value or b"").type
                        for r in records
                        if r.key == key
                    ]
                batches = await consumer.getmany(timeout_ms=200)
            return found
        finally:
            await consumer.stop()

    async def status_of(self, loan_id: str, step: int) -> str | None:
        for item in await self.notifications(loan_id):
            if item["step"] == step and item["kind"] == "reminder":
                status: str = item["status"]
                return status
        return None


def daytime_zone() -> str:
    """A fixed-offset zone where it is now early afternoon, far from every quiet window."""
    hour = datetime.now(UTC).hour
    offset = (13 - hour + 12) % 24 - 12  # local hour 13 (or 1 hour off at the date line)
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


@asynccontextmanager
async def notifier_stack(
    infrastructure: Infrastructure, *, reports: bool = True, **settings: Any
) -> AsyncIterator[Stack]:
    """Intake and the notifier; with ``reports=False`` no provider's report or status
    callback ever reaches the notifier."""
    port = free_port()
    receipts = f"http://127.0.0.1:{port}/v1/receipts"
    if not reports:
        settings["twilio_status_callback_url"] = ""
    async with running_providers(emulator_config(receipts, reports=reports)) as providers:
        options = {"notifier": notifier_settings(providers, receipts, **settings)}
        async with (
            running_platform(infrastructure, ("intake", "notifier"), options) as platform,
            serving(platform.apps["notifier"], port=port),
        ):
            yield Stack(platform, providers)
