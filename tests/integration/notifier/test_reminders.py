"""Reminders end to end: a lender's report becomes a text on the borrower's phone, under the
rules, and every lifecycle event stops what it must."""

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.events.assignments import (
    ActivityDirection,
    ActivityOutcome,
    ActivityType,
    AgencyActivityRecorded,
    AssignmentPlaced,
)
from shared.events.catalog import AGENCY_ACTIVITY_RECORDED, ASSIGNMENT_PLACED
from tests.harness import eventually
from tests.infrastructure import TestInfrastructure
from tests.integration.notifier.stack import Stack, notifier_stack
from tests.support.factories import payment


@pytest.fixture(scope="module")
async def stack(infrastructure: TestInfrastructure) -> AsyncIterator[Stack]:
    async with notifier_stack(infrastructure) as running:
        yield running


def lender_id(stack: Stack) -> str:
    return stack.platform.credentials.lender["id"]


async def test_a_due_reminder_reaches_the_borrower_and_its_delivery_comes_back(
    stack: Stack,
) -> None:
    loan_id, phone = await stack.report_loan()
    planned = await stack.notifications(loan_id)
    assert {n["status"] for n in planned} == {"scheduled"}
    assert all(n["policy_version"] for n in planned)
    await stack.make_due(loan_id, step=1)

    async def delivered() -> bool:
        return await stack.status_of(loan_id, 1) == "delivered"

    await eventually(delivered, within=30)
    (first,) = [n for n in await stack.notifications(loan_id) if n["step"] == 1]
    assert [h["status"] for h in first["history"]] == ["scheduled", "sent", "delivered"]
    assert first["provider"] == "twilio"
    assert first["provider_message_id"].startswith("SM")
    assert first["pack_version"].startswith("CN-")
    (text,) = stack.providers.journal.messages(phone)
    assert text.channel == "sms"
    assert "Demo Consumer Finance" in text.body
    assert "退订" in text.body  # zh-CN, with the opt-out notice

    async def published() -> list[str] | None:
        types = await stack.published_types(loan_id)
        return types if "collections.notification.delivered" in types else None

    types = await eventually(published, within=30)
    sent = [t for t in types if t != "collections.notification.scheduled"]
    assert sent == ["collections.notification.sent", "collections.notification.delivered"]
    assert types.count("collections.notification.scheduled") == len(planned)


async def test_an_e_mail_reminder_goes_out_over_smtp_with_its_subject(stack: Stack) -> None:
    loan_id, _ = await stack.report_loan()
    (email,) = [n for n in await stack.notifications(loan_id) if n["channel"] == "email"]
    await stack.make_due(loan_id, step=email["step"])

    async def sent() -> bool:
        return await stack.status_of(loan_id, email["step"]) == "sent"

    await eventually(sent, within=30)
    address = stack.borrower_emails[loan_id]
    (message,) = stack.providers.journal.messages(address)
    assert message.provider == "smtp"
    assert message.subject
    assert "Demo Consumer Finance" in message.body


async def _pay_in_full(stack: Stack, loan_id: str) -> None:
    answer = await stack.intake.post(
        f"/v1/loans/{loan_id}/payments",
        json=payment("P-1", "1250.00", paid_at=datetime.now(UTC).isoformat()),
        headers=stack.platform.as_lender(),
    )
    assert answer.status_code in (201, 202), answer.text


async def _hold(stack: Stack, loan_id: str) -> None:
    answer = await stack.intake.post(
        f"/v1/loans/{loan_id}/holds", json={"reason": "dispute"}, headers=stack.platform.as_lender()
    )
    assert answer.status_code in (201, 202), answer.text


async def _recall(stack: Stack, loan_id: str) -> None:
    answer = await stack.intake.post(
        f"/v1/loans/{loan_id}/recall", json={}, headers=stack.platform.as_lender()
    )
    assert answer.status_code == 202, answer.text


async def _close(stack: Stack, loan_id: str) -> None:
    answer = await stack.intake.post(
        f"/v1/loans/{loan_id}/close",
        json={"reason": "written_off"},
        headers=stack.platform.as_lender(),
    )
    assert answer.status_code == 202, answer.text


Stop = Callable[[Stack, str], Awaitable[None]]


@pytest.mark.parametrize(
    ("stop", "reason"),
    [
        (_pay_in_full, "paid"),
        (_hold, "hold:dispute"),
        (_recall, "recalled"),
        (_close, "closed:written_off"),
    ],
)
async def test_payment_hold_recall_and_close_cancel_what_is_pending(
    stack: Stack, stop: Stop, reason: str
) -> None:
    loan_id, phone = await stack.report_loan()
    await stop(stack, loan_id)

    async def all_cancelled() -> list[dict[str, Any]] | None:
        found = await stack.notifications(loan_id)
        return found if {n["status"] for n in found} == {"cancelled"} else None

    cancelled = await eventually(all_cancelled, within=30)
    assert {n["reason"] for n in cancelled} == {reason}
    await stack.make_due(loan_id, step=None)
    assert stack.providers.journal.messages(phone) == []


async def test_a_stop_reply_opts_the_borrower_out_of_texts_but_not_e_mail(stack: Stack) -> None:
    loan_id, phone = await stack.report_loan()
    async with stack.providers_client() as providers:
        answer = await providers.post(
            "/v1/replies", json={"provider": "twilio", "from": phone, "body": "退订"}
        )
    assert answer.status_code == 200, answer.text

    async def texts_cancelled() -> list[dict[str, Any]] | None:
        found = await stack.notifications(loan_id)
        sms = [n for n in found if n["channel"] == "sms"]
        return found if sms and all(n["status"] == "cancelled" for n in sms) else None

    found = await eventually(texts_cancelled, within=30)
    assert {n["reason"] for n in found if n["channel"] == "sms"} == {"opted_out:sms"}
    assert {n["status"] for n in found if n["channel"] == "email"} <= {"scheduled"}


async def test_an_opt_out_reported_by_the_lender_stops_that_channel(stack: Stack) -> None:
    loan_id, _ = await stack.report_loan()
    borrower_id = await stack.borrower_id(loan_id)
    answer = await stack.intake.put(
        f"/v1/borrowers/{borrower_id}/contact-preferences",
        json={"opted_out_channels": ["sms"]},
        headers=stack.platform.as_lender(),
    )
    assert answer.status_code == 200, answer.text

    async def texts_cancelled() -> bool:
        found = await stack.notifications(loan_id)
        return all(n["status"] == "cancelled" for n in found if n["channel"] == "sms")

    await eventually(texts_cancelled, within=30)


async def test_a_placement_sends_the_agency_notice_at_once_in_the_borrowers_locale(
    stack: Stack,
) -> None:
    loan_id, phone = await stack.report_loan(locale="en-US")
    notifications = await stack.notifications(loan_id)
    placed = AssignmentPlaced(
        assignment_id=f"A-{loan_id}",
        loan_id=loan_id,
        borrower_ref=await stack.borrower_ref(loan_id),
        agency_id="agency-acme",
        agency_name="Acme Recoveries",
        agency_phone="+8640012345678",
        placed_at=datetime.now(UTC),
        policy_version="test",
        reason="unpaid past the threshold",
    )
    await stack.publish(ASSIGNMENT_PLACED, lender_id(stack), loan_id, placed)

    async def notice_delivered() -> dict[str, Any] | None:
        for item in await stack.notifications(loan_id):
            if item["kind"] == "agency_notice" and item["status"] == "delivered":
                return item
        return None

    notice = await eventually(notice_delivered, within=30)
    assert notice["agency_id"] == "agency-acme"
    assert notice["locale"] == "en-US"
    (text,) = stack.providers.journal.messages(phone)
    assert "Acme Recoveries" in text.body
    assert "Demo Consumer Finance" in text.body
    assert any(n["status"] == "scheduled" for n in notifications)
    reminders = [n for n in await stack.notifications(loan_id) if n["kind"] == "reminder"]
    assert {n["reason"] for n in reminders} == {"placed_with_agency"}


async def test_caps_count_the_texts_agencies_sent_today(stack: Stack) -> None:
    loan_id, phone = await stack.report_loan()
    ref = await stack.borrower_ref(loan_id)
    for number in range(2):
        activity = AgencyActivityRecorded(
            activity_id=f"act-{loan_id}-{number}",
            assignment_id=f"A-{loan_id}",
            loan_id=loan_id,
            borrower_ref=ref,
            agency_id="agency-acme",
            type=ActivityType.SMS,
            direction=ActivityDirection.OUTBOUND,
            outcome=ActivityOutcome.DELIVERED,
            at=datetime.now(UTC),
        )
        await stack.publish(AGENCY_ACTIVITY_RECORDED, lender_id(stack), loan_id, activity)
    await eventually(lambda: stack.ledger_size(loan_id, 2), within=30)
    await stack.make_due(loan_id, step=1)

    async def suppressed() -> dict[str, Any] | None:
        for item in await stack.notifications(loan_id):
            if item["step"] == 1 and "suppressed" in [h["status"] for h in item["history"]]:
                return item
        return None

    first = await eventually(suppressed, within=30)
    assert first["rule_ids"] == ["POL-03"]
    assert first["status"] == "scheduled"  # waits for the borrower's next day
    assert datetime.fromisoformat(first["due_at"]) > datetime.now(UTC)
    assert stack.providers.journal.messages(phone) == []
