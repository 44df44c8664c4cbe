"""Building blocks of intake's acceptance tests: request bodies, problem checks, intake's
tables, and reading what intake published from the real topics."""

import asyncio
import copy
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.events.envelope import Envelope
from shared.http.problems import PROBLEM_JSON
from tests.unit.test_intake_schemas import VALID

# What the lender sends that is personal data; none of it may rest or travel in plaintext.
NAME = VALID["borrower"]["name"]
PHONE = VALID["borrower"]["phone"]
EMAIL = VALID["borrower"]["email"]


def new_loan_id(prefix: str = "L") -> str:
    return f"{prefix}-{uuid4().hex[:16]}"


def report(loan_id: str, **changes: Any) -> dict[str, Any]:
    """The documented example report, about ``loan_id``, with top-level ``changes``."""
    body = copy.deepcopy(VALID)
    body["loan_id"] = loan_id
    body.update(changes)
    return body


def later_report(loan_id: str, days_later: int, amount: str = "1250.00") -> dict[str, Any]:
    """The example report ``days_later`` days on (November 2026, so at most 2 days)."""
    day = 28 + days_later
    return report(
        loan_id,
        days_past_due=27 + days_later,
        as_of=f"2026-11-{day:02d}T09:00:00+08:00",
        amount_overdue={"amount": amount, "currency": "CNY"},
    )


def payment(
    payment_id: str, amount: str, currency: str = "CNY", paid_at: str = "2026-11-29T10:00:00+08:00"
) -> dict[str, Any]:
    """A payment made after the example report's ``as_of``, so it lowers what is outstanding."""
    return {
        "payment_id": payment_id,
        "amount": {"amount": amount, "currency": currency},
        "paid_at": paid_at,
    }


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
        """How many rows ``loans``, ``loan_events`` and ``outbox`` hold about one loan."""
        async with self.engine.connect() as connection:
            loans = await connection.scalar(
                text("SELECT count(*) FROM loans WHERE lender_id = :l AND loan_id = :id"),
                {"l": lender_id, "id": loan_id},
            )
            events = await connection.scalar(
                text("SELECT count(*) FROM loan_events WHERE lender_id = :l AND loan_id = :id"),
                {"l": lender_id, "id": loan_id},
            )
            # The outbox has no tenant column: the key is the loan id, the lender in the event.
            outbox = await connection.scalar(
                text(
                    "SELECT count(*) FROM outbox WHERE message_key = :id "
                    "AND convert_from(payload, 'UTF8')::jsonb ->> 'tenantid' = :l"
                ),
                {"l": lender_id, "id": loan_id},
            )
        return {
            "loans": int(loans or 0),
            "loan_events": int(events or 0),
            "outbox": int(outbox or 0),
        }

    async def outbox_rows(self, event_id: UUID | str) -> int:
        async with self.engine.connect() as connection:
            found = await connection.scalar(
                text("SELECT count(*) FROM outbox WHERE event_id = :id"), {"id": str(event_id)}
            )
        return int(found or 0)

    async def outbox_payloads(self, message_key: str) -> list[bytes]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT payload FROM outbox WHERE message_key = :k ORDER BY id"),
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


def changed(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``body`` with the field at dotted ``path`` set to ``value`` (``...`` drops it)."""
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[part]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return body


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
