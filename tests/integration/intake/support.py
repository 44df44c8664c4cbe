"""Building blocks of intake's acceptance tests: request bodies, problem checks, intake's
tables, and reading what intake published from the real topics."""

import asyncio
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.intake.application.sealing import Sealing
from services.intake.settings import IntakeSettings
from services.intake.wiring import sealing_from
from shared.events.envelope import Envelope, message_key
from shared.http.problems import PROBLEM_JSON
from shared.runtime import ServiceRuntime


def assert_problem(response: httpx.Response, status: int, *fields: str) -> dict[str, Any]:
    """A problem+json answer with ``status`` whose errors name exactly ``fields`` (if given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    if fields:
        named = {error["field"] for error in body.get("errors", [])}
        assert named == set(fields), body
    return body


class IntakeTables:
    """Read-only look at intake's own database, to see what a request wrote."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def rows_about(self, lender_id: str, loan_id: str) -> dict[str, int]:
        """How many rows ``loans`` and ``loan_events`` hold about one loan, and how many the
        outbox was given (its witness: the relay deletes the rows it publishes)."""
        async with self.engine.connect() as connection:
            loans = await connection.scalar(
                text("SELECT count(*) FROM loans WHERE lender_id = :l AND loan_id = :id"),
                {"l": lender_id, "id": loan_id},
            )
            events = await connection.scalar(
                text("SELECT count(*) FROM loan_events WHERE lender_id = :l AND loan_id = :id"),
                {"l": lender_id, "id": loan_id},
            )
            outbox = await connection.scalar(
                text("SELECT count(*) FROM outbox_witness WHERE message_key = :key"),
                {"key": message_key(lender_id, loan_id)},
            )
        return {
            "loans": int(loans or 0),
            "loan_events": int(events or 0),
            "outbox": int(outbox or 0),
        }

    async def outbox_rows(self, event_id: UUID | str) -> int:
        async with self.engine.connect() as connection:
            found = await connection.scalar(
                text("SELECT count(*) FROM outbox_witness WHERE event_id = :id"),
                {"id": str(event_id)},
            )
        return int(found or 0)

    async def outbox_payloads(self, message_key: str) -> list[bytes]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT payload FROM outbox_witness WHERE message_key = :k ORDER BY id"),
                {"k": message_key},
            )
            return [bytes(row.payload) for row in rows]


@dataclass(frozen=True)
class Published:
    """One message as it is on the topic."""

    key: str
    envelope: Envelope
    partition: int
    offset: int


async def read_topic(
    bootstrap: str, topic: str, event_ids: set[UUID], within: float = 20.0
) -> dict[UUID, list[Published]]:
    """Read ``topic`` from its beginning with a fresh consumer (no group) until every one of
    ``event_ids`` was seen and the consumer has caught up with the end of every partition, so a
    copy further along would be counted too. Returns every copy of each wanted event."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    found: dict[UUID, list[Published]] = defaultdict(list)
    deadline = time.monotonic() + within
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    envelope = Envelope.model_validate_json(record.value)
                    if envelope.id in event_ids:
                        found[envelope.id].append(
                            Published(
                                key=(record.key or b"").decode(),
                                envelope=envelope,
                                partition=record.partition,
                                offset=record.offset,
                            )
                        )
            if set(found) >= event_ids and await _caught_up(consumer):
                return dict(found)
            if time.monotonic() > deadline:
                missing = event_ids - set(found)
                raise AssertionError(f"{len(missing)} events not on {topic}: {sorted(missing)}")
    finally:
        await consumer.stop()


async def _caught_up(consumer: AIOKafkaConsumer) -> bool:
    partitions: list[TopicPartition] = sorted(consumer.assignment())
    if not partitions:
        return False
    ends: dict[TopicPartition, int] = await consumer.end_offsets(list(partitions))
    positions = await asyncio.gather(*(consumer.position(tp) for tp in partitions))
    return all(position >= ends[tp] for tp, position in zip(partitions, positions, strict=True))


async def read_one(
    bootstrap: str, topic: str, event_id: UUID | str, within: float = 20.0
) -> Published:
    """The one copy of ``event_id`` on ``topic`` (fails if it is missing or there twice)."""
    wanted = UUID(str(event_id))
    copies = (await read_topic(bootstrap, topic, {wanted}, within))[wanted]
    assert len(copies) == 1, copies
    return copies[0]


async def send_json(
    client: httpx.AsyncClient, method: str, url: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    """Send ``body`` as ASCII JSON, so strings no UTF-8 encoder takes (``"\\ud800"``) travel as
    escapes, just as a lender's JSON library may send them."""
    return await client.request(
        method,
        url,
        content=json.dumps(body),
        headers={**headers, "Content-Type": "application/json"},
    )


def intake_sealing(runtime: ServiceRuntime) -> Sealing:
    """The keys of the running intake, to open what it sealed."""
    assert isinstance(runtime.settings, IntakeSettings)
    return sealing_from(runtime.settings)
