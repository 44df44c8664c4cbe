"""Contact details leave the gateway once their purpose is over, on real Kafka and PostgreSQL:
the retention worker (here ``AGENCY_GATEWAY_CONTACT_RETENTION_DAYS=0``) erases the sealed
contact of a loan that was closed and that no agency holds; then a scan of every text, JSON and
binary column of every table of the gateway's database finds neither that sealed value nor the
borrower's name, phone or e-mail (nor the note that named them).

What stays, and why: the case (``collection_cases``: the borrower's pseudonym, the amounts, the
placement's status, when the loan ended and when its contact was erased; no contact, region or
time zone), the assignments, the activities without their texts, the contact ledger
(``contacts``: pseudonym, channel, outcome, time), the promises: records of the collection,
kept without plaintext (``shared.personal_data.collection_records``: CN-08, five years after
the last activity); the inbox (event ids) and outbox (the gateway's own events: pseudonyms
only) until the shared retention job prunes them; agencies, API keys (hashed) and the webhook
log, which hold no borrower data."""

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import Text, cast, func, select, text
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table

from shared.events.catalog import LOAN_CLOSED
from shared.events.models import ClosureReason, LoanClosed
from tests.harness import RunningPlatform, eventually
from tests.infrastructure import TestInfrastructure
from tests.integration.agency_gateway.stack import NORTH, SOUTH, GatewayStack, gateway_stack
from tests.integration.agency_gateway.test_borrower_limits import Announced
from tests.integration.agency_gateway.test_disputes import INTAKE, gone

SCANNED_TYPES = ("text", "character varying", "jsonb", "json", "bytea", "ARRAY")


async def stored_case(platform: RunningPlatform, loan_id: str) -> dict[str, Any]:
    runtime = platform.runtime("agency_gateway")
    async with runtime.engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT * FROM collection_cases WHERE loan_id = :loan"), {"loan": loan_id}
            )
        ).one()
    return dict(row._mapping)


async def found_anywhere(platform: RunningPlatform, needles: Sequence[str]) -> list[str]:
    """Each ``table.column`` of the gateway's database (every table of its schema; text,
    JSON, arrays as text, bytes as UTF-8) holding any of ``needles`` (also as JSON escapes)."""
    forms = sorted({form for n in needles for form in (n, json.dumps(n)[1:-1])})
    runtime = platform.runtime("agency_gateway")
    hits: list[str] = []
    async with runtime.engine.connect() as connection:
        columns = await connection.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND data_type = ANY(:types) "
                "ORDER BY table_name, column_name"
            ),
            {"types": list(SCANNED_TYPES)},
        )
        scanned = list(columns)
        assert {"collection_cases", "activities", "webhook_deliveries", "outbox"} <= {
            table for table, _, _ in scanned
        }
        for table, column, data_type in scanned:
            stored = sql_table(table, sql_column(column)).c[column]
            for form in forms:
                if data_type == "bytea":  # searched as hex: any bytes, UTF-8 or not
                    found = func.strpos(func.encode(stored, "hex"), form.encode().hex())
                else:
                    found = func.strpos(cast(stored, Text), form)
                query = select(func.count()).select_from(stored.table).where(found > 0)
                if await connection.scalar(query):
                    hits.append(f"{table}.{column}")
    return sorted(set(hits))


@pytest.fixture(scope="module")
async def erasing(infrastructure: TestInfrastructure) -> AsyncIterator[GatewayStack]:
    """A gateway of its own that keeps contact details no time after a loan ended."""
    async with gateway_stack(
        infrastructure, contact_retention_days=0, contact_retention_idle_seconds=0.1
    ) as running:
        await running.register(NORTH, share=3)
        await running.register(SOUTH, share=1)
        yield running


async def test_contacts_of_a_closed_loan_leave_every_table_of_the_gateway(
    erasing: GatewayStack,
) -> None:
    stack, tag = erasing, uuid4().hex[:8]
    name, phone, email = f"王五{tag}", f"+86139{int(tag, 16) % 10**8:08d}", f"ww{tag}@example.com"
    loan = await Announced(stack, f"B-{tag}", name=name, phone=phone, email=email).start()
    path = f"/v1/assignments/{loan.assignment['assignment_id']}"
    agency = stack.agency(loan.assignment["agency_id"])
    shown = await stack.gateway.get(path, headers=agency)
    assert shown.json()["borrower"]["name"] == name
    note = {
        "activity_id": f"ACT-{tag}",
        "type": "note",
        "direction": "outbound",
        "outcome": "delivered",
        "at": datetime.now(UTC).isoformat(),
        "text": f"{name} asked to be called on {phone}",
    }
    recorded = await stack.gateway.post(f"{path}/activities", json=note, headers=agency)
    assert recorded.status_code == 201, recorded.text
    sealed = (await stored_case(stack.platform, loan.loan_id))["contact_sealed"]["ct"]
    needles = [sealed, name, phone, email]
    assert await found_anywhere(stack.platform, [sealed]) == ["collection_cases.contact_sealed"]

    closed = LoanClosed(
        loan_id=loan.loan_id, reason=ClosureReason.SETTLED, closed_at=datetime.now(UTC)
    )
    await stack.publish(LOAN_CLOSED, loan.loan_id, closed, source=INTAKE)
    await eventually(lambda: gone(loan))

    async def erased() -> dict[str, Any] | None:
        case = await stored_case(stack.platform, loan.loan_id)
        return case if case["contact_sealed"] is None else None

    case = await eventually(erased, within=30)
    assert case["contact_erased_at"] is not None
    assert (case["region"], case["borrower_zone"]) == (None, None)
    assert case["ended_at"] is not None
    assert await found_anywhere(stack.platform, needles) == []

    # What stays: the records, without plaintext.
    async with stack.platform.runtime("agency_gateway").engine.connect() as connection:
        activity = (
            await connection.execute(
                text("SELECT body, text_sealed FROM activities WHERE activity_id = :id"),
                {"id": f"ACT-{tag}"},
            )
        ).one()
        placements = await connection.scalar(
            text("SELECT count(*) FROM assignments WHERE loan_id = :loan"), {"loan": loan.loan_id}
        )
    assert (activity.body["type"], activity.text_sealed) == ("note", None)
    assert placements == 1
    assert case["borrower_ref"] == loan.borrower_ref
    answer = await stack.gateway.get(path, headers=agency)
    assert answer.status_code == 410  # its agency lost access with the placement
    listed = await stack.gateway.get("/v1/assignments", headers=agency)
    assert listed.status_code == 200
