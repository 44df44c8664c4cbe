"""The borrower's name, phone and e-mail never appear in intake's logs, nor in plaintext in any
of its tables; in events they travel sealed, next to the borrower's pseudonym."""

import contextlib
import io
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import structlog
from sqlalchemy import text

from services.intake.adapters.loans import SqlLoanStore
from services.intake.application.ports import ReportedLoan
from shared.crypto import SealedValue
from shared.events.envelope import Envelope, message_key
from shared.logging import configure_logging
from tests.harness import RunningPlatform, eventually
from tests.integration.intake.support import (
    IntakeTables,
    intake_sealing,
    send_json,
)
from tests.support.factories import (
    EMAIL,
    NAME,
    PHONE,
    changed,
    new_loan_id,
    payment,
    report,
)


def personal(name: str, phone: str, email: str) -> list[str]:
    """What must not show: each value as sent, JSON-escaped, and the phone's bare digits."""
    forms = {name, phone, email, phone.lstrip("+")}
    forms |= {json.dumps(value)[1:-1] for value in (name, email)}
    return sorted(forms)


@pytest.fixture
def borrower() -> dict[str, Any]:
    """A borrower whose details appear nowhere but in this test."""
    canary = uuid4().hex[:10]
    return {
        "id": f"B-{canary}",
        "name": f"王五 Canary{canary}",
        "phone": "+8613912345678",
        "email": f"wangwu.{canary}@example.com",
        "locale": "zh-CN",
        "timezone": "Asia/Shanghai",
    }


@pytest.fixture
def intake_log() -> Iterator[Callable[[], str]]:
    """Logging set up as ``python -m services.intake`` sets it up (JSON lines on its stdout,
    here a buffer), at DEBUG so that nothing is filtered out. Every service of the test
    platform logs through the same root logger, so the buffer holds their lines too. The
    session's own logging comes back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quieted = {name: logging.getLogger(name).level for name in ("aiokafka", "kafka")}
    configuration = structlog.get_config()
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        configure_logging("intake", level="DEBUG", json=True)
    try:
        yield buffer.getvalue
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, quiet_level in quieted.items():
            logging.getLogger(name).setLevel(quiet_level)
        structlog.configure(**configuration)
        structlog.contextvars.clear_contextvars()


async def test_logs_never_carry_personal_data(
    platform: RunningPlatform,
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    borrower: dict[str, Any],
    tables: IntakeTables,
    intake_log: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loan_id = new_loan_id()
    body = report(loan_id, borrower=borrower)
    logging.getLogger("services.intake").info("log capture works")
    structlog.get_logger("services.intake").info("structlog too", borrower=borrower)

    assert (await intake.post("/v1/overdue-loans", json=body, headers=lender)).status_code == 202
    paid = await intake.post(
        f"/v1/loans/{loan_id}/payments", json=payment(f"P-{loan_id}", "50.00"), headers=lender
    )
    assert paid.status_code == 202
    assert (await intake.get(f"/v1/loans/{loan_id}", headers=lender)).status_code == 200
    # Refused requests that carry the details: a bad report, a batch item, a garbled body.
    bad = changed(body, "jurisdiction", "XX")
    assert (await intake.post("/v1/overdue-loans", json=bad, headers=lender)).status_code == 422
    batch = {"items": [bad, report(new_loan_id(), borrower=borrower)]}
    batched = await intake.post("/v1/overdue-loans/batch", json=batch, headers=lender)
    assert batched.json()["rejected"] == 1
    garbled = json.dumps(body, ensure_ascii=False)[:-3]
    refused = await intake.post(
        "/v1/overdue-loans",
        content=garbled.encode(),
        headers={**lender, "Content-Type": "application/json"},
    )
    assert refused.status_code == 422
    # A failing database write whose error message dumps the rows it was given: the log says
    # where it failed, never what the message said.
    original_save = SqlLoanStore.save_reported

    async def failing_save(self: SqlLoanStore, reported: Sequence[ReportedLoan]) -> None:
        raise RuntimeError(f"simulated database failure writing {reported!r}")

    monkeypatch.setattr(SqlLoanStore, "save_reported", failing_save)
    as_a_server = httpx.ASGITransport(app=platform.apps["intake"], raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=as_a_server, base_url="http://intake") as client:
        failed = await client.post(
            "/v1/overdue-loans", json=report(new_loan_id(), borrower=borrower), headers=lender
        )
    monkeypatch.setattr(SqlLoanStore, "save_reported", original_save)
    assert failed.status_code == 500
    response_text = paid.text + batched.text + refused.text + failed.text
    await eventually(lambda: _all_published(tables, message_key(lender_id, loan_id)), within=20)

    log = intake_log()
    assert "log capture works" in log
    assert '"event": "structlog too"' in log
    assert '"error_type": "RuntimeError"' in log
    assert "'contact_sealed'" not in log
    for value in personal(borrower["name"], borrower["phone"], borrower["email"]):
        assert value not in log
        assert value not in response_text


async def _all_published(tables: IntakeTables, key: str) -> bool:
    async with tables.engine.connect() as connection:
        waiting = await connection.scalar(
            text("SELECT count(*) FROM outbox WHERE message_key = :k AND published_at IS NULL"),
            {"k": key},
        )
    return int(waiting or 0) == 0


async def test_no_table_holds_personal_data_in_plaintext(
    platform: RunningPlatform,
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    borrower: dict[str, Any],
    tables: IntakeTables,
) -> None:
    loan_id = new_loan_id()
    body = report(loan_id, borrower=borrower)
    key = {"Idempotency-Key": str(uuid4())}
    assert (await intake.post("/v1/overdue-loans", json=body, headers={**lender, **key})).is_success
    await intake.post(
        f"/v1/loans/{loan_id}/payments", json=payment(f"P-{loan_id}", "50.00"), headers=lender
    )
    await intake.post(f"/v1/loans/{loan_id}/holds", json={"reason": "dispute"}, headers=lender)
    await intake.put(
        f"/v1/borrowers/{borrower['id']}/contact-preferences",
        json={"opted_out_channels": ["sms"]},
        headers=lender,
    )
    await send_json(
        intake, "POST", "/v1/overdue-loans/batch", {"items": [body, report(new_loan_id())]}, lender
    )

    columns = await _text_columns(tables)
    assert {"loans.contact_sealed", "loan_events.details", "outbox.payload"} <= {
        f"{table}.{column}" for table, column, _ in columns
    }
    needles = personal(NAME, PHONE, EMAIL) + personal(
        borrower["name"], borrower["phone"], borrower["email"]
    )
    async with tables.engine.connect() as connection:
        for table, column, kind in columns:
            selected = f'"{column}"' if kind == "bytea" else f'"{column}"::text'
            rows = await connection.execute(text(f'SELECT {selected} FROM "{table}"'))  # noqa: S608
            for (value,) in rows:
                found = _found(value, needles)
                assert not found, f"{table}.{column} holds {found} in plaintext"

    runtime = platform.runtime("intake")
    reference = intake_sealing(runtime).reference(lender_id, borrower["id"])
    contact = {"name": borrower["name"], "phone": borrower["phone"], "email": borrower["email"]}
    async with tables.engine.connect() as connection:
        sealed_at_rest = await connection.scalar(
            text("SELECT contact_sealed FROM loans WHERE lender_id = :l AND loan_id = :id"),
            {"l": lender_id, "id": loan_id},
        )
    opened = intake_sealing(runtime).storage.open(
        SealedValue.model_validate(sealed_at_rest), associated_data=reference.encode()
    )
    assert json.loads(opened) == contact


async def test_events_carry_the_pseudonym_and_the_contact_sealed(
    platform: RunningPlatform,
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    borrower: dict[str, Any],
    tables: IntakeTables,
) -> None:
    loan_id = new_loan_id()
    posted = await intake.post(
        "/v1/overdue-loans", json=report(loan_id, borrower=borrower), headers=lender
    )
    await intake.post(
        f"/v1/loans/{loan_id}/payments", json=payment(f"P-{loan_id}", "50.00"), headers=lender
    )

    payloads = await tables.outbox_payloads(message_key(lender_id, loan_id))
    assert len(payloads) == 2
    for payload in payloads:
        assert not _found(payload, personal(borrower["name"], borrower["phone"], borrower["email"]))
    runtime = platform.runtime("intake")
    reference = intake_sealing(runtime).reference(lender_id, borrower["id"])
    event = Envelope.model_validate_json(payloads[0])
    assert event.id == UUID(posted.json()["event_id"])
    assert event.data["borrower"]["ref"] == reference
    assert reference.startswith("bref_")
    assert borrower["id"] not in payloads[0].decode()
    sealed = SealedValue.model_validate(event.data["borrower"]["contact"])
    opened = intake_sealing(runtime).transit.open(sealed, associated_data=reference.encode())
    assert json.loads(opened) == {
        "name": borrower["name"],
        "phone": borrower["phone"],
        "email": borrower["email"],
    }


async def _text_columns(tables: IntakeTables) -> list[tuple[str, str, str]]:
    """(table, column, type) of every column of intake's tables that can hold text."""
    async with tables.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name <> 'alembic_version' AND data_type "
                "IN ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea') "
                "ORDER BY table_name, column_name"
            )
        )
        return [(row.table_name, row.column_name, row.data_type) for row in rows]


def _found(value: str | bytes | None, needles: list[str]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bytes | memoryview):
        haystack = bytes(value)
        return [needle for needle in needles if needle.encode() in haystack]
    return [needle for needle in needles if needle in value]
