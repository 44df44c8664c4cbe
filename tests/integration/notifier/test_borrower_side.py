"""The borrower's side on real Kafka and PostgreSQL, with the local providers: every message
links to the borrower's page (never stored, never logged), e-mails carry RFC 8058 one-click
headers and stop after an opt-out, disputes hold reminders until their own hold is lifted and
are answered even on a held or closed loan, data requests are answered sealed on the
data-answers topic (once each), and retention leaves nothing of the borrower's contact details
in any table."""

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text

from services.notifier.settings import NotifierSettings
from shared.crypto import KeyRing
from shared.events.assignments import DisputeRaised
from shared.events.borrowers import (
    DataAnswer,
    DataRequestAnswered,
    DataRequested,
    DataRequestKind,
    DisputeOutcome,
    DisputeResolved,
    DisputeSource,
    open_answer,
)
from shared.events.catalog import (
    CONTACT_PREFERENCES_UPDATED,
    DATA_REQUEST_ANSWERED,
    DATA_REQUESTED,
    DISPUTE_RAISED,
    DISPUTE_RESOLVED,
    HOLD_LIFTED,
    HOLD_PLACED,
    LOAN_CLOSED,
)
from shared.events.envelope import Envelope
from shared.events.models import (
    ClosureReason,
    ContactPreferences,
    ContactPreferencesUpdated,
    HoldLifted,
    HoldPlaced,
    HoldReason,
    LoanClosed,
)
from shared.events.topics import Topic
from shared.vocabulary import Channel
from tests.harness import eventually
from tests.infrastructure import TestInfrastructure
from tests.integration.notifier.stack import Stack, notifier_stack

EMAIL_STEP = 3  # cn-default: sms (1 and 3 days past due), e-mail (5), sms (10)


@pytest.fixture(scope="module")
async def stack(infrastructure: TestInfrastructure) -> AsyncIterator[Stack]:
    async with notifier_stack(
        infrastructure, contact_retention_days=0, retention_interval_seconds=0.2
    ) as running:
        yield running


def settings_of(stack: Stack) -> NotifierSettings:
    settings = stack.platform.runtime("notifier").settings
    assert isinstance(settings, NotifierSettings)
    return settings


def lender(stack: Stack) -> str:
    return stack.platform.credentials.lender["id"]


def now() -> datetime:
    return datetime.now(UTC)


async def of_kind(stack: Stack, loan_id: str, kind: str) -> list[dict[str, Any]]:
    return [n for n in await stack.notifications(loan_id) if n["kind"] == kind]


async def wait_status(
    stack: Stack, loan_id: str, kind: str, status: str, within: float = 30
) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        for n in await of_kind(stack, loan_id, kind):
            if n["status"] == status:
                return n
        return None

    found: dict[str, Any] = await eventually(reached, within=within)
    return found


async def pending_reminders(stack: Stack, loan_id: str) -> list[dict[str, Any]]:
    return [n for n in await of_kind(stack, loan_id, "reminder") if n["status"] == "scheduled"]


async def every_table(stack: Stack) -> dict[str, list[str]]:
    """Every row of every table of the notifier's database (information_schema), as text:
    bytea decoded (the outbox's payloads), everything else as PostgreSQL prints it."""
    runtime = stack.platform.runtime("notifier")
    found: dict[str, list[str]] = {}
    async with runtime.sessions() as session:
        tables = await session.execute(
            text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            )
        )
        for (table,) in tables.all():
            rows = await session.execute(text(f'SELECT * FROM "{table}"'))  # noqa: S608
            found[table] = [" | ".join(_as_text(value) for value in row) for row in rows.all()]
    return found


def _as_text(value: object) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return json.dumps(value, ensure_ascii=False, default=str)


def occurrences(tables: dict[str, list[str]], needle: str) -> list[str]:
    forms = {needle, json.dumps(needle)[1:-1]}  # as written, and as JSON escapes it
    return [name for name, rows in tables.items() for row in rows if any(f in row for f in forms)]


async def answers_to(stack: Stack, request_id: str) -> list[DataRequestAnswered]:
    runtime = stack.platform.runtime("notifier")
    consumer = AIOKafkaConsumer(
        runtime.topic(Topic.DATA_ANSWERS),
        bootstrap_servers=runtime.settings.kafka_bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        found: list[DataRequestAnswered] = []
        batches = await consumer.getmany(timeout_ms=1000)
        while batches:
            for records in batches.values():
                for record in records:
                    envelope = Envelope.model_validate_json(record.value or b"")
                    answered = DATA_REQUEST_ANSWERED.parse(envelope)
                    if answered.request_id == request_id:
                        found.append(answered)
            batches = await consumer.getmany(timeout_ms=200)
        return found
    finally:
        await consumer.stop()


def opened(stack: Stack, answered: DataRequestAnswered) -> DataAnswer:
    assert answered.sealed_answer is not None
    transit = KeyRing.from_secret(settings_of(stack).transit_keys)
    return open_answer(transit, answered.request_id, answered.sealed_answer)


async def request_data(
    stack: Stack, loan_id: str, kind: DataRequestKind, request_id: str | None = None
) -> str:
    request_id = request_id or f"DR-{uuid4().hex[:10]}"
    data = DataRequested(
        request_id=request_id,
        loan_id=loan_id,
        borrower_ref=await stack.borrower_ref(loan_id),
        kind=kind,
        requested_at=now(),
        due_by=now() + timedelta(days=15),
    )
    await stack.publish(DATA_REQUESTED, lender(stack), loan_id, data)
    return request_id


async def resolve(
    stack: Stack, loan_id: str, outcome: DisputeOutcome, dispute_id: str, hold_id: str
) -> None:
    data = DisputeResolved(
        loan_id=loan_id,
        dispute_id=dispute_id,
        borrower_ref=await stack.borrower_ref(loan_id),
        source=DisputeSource.BORROWER,
        outcome=outcome,
        hold_id=hold_id,
        resolved_at=now(),
    )
    await stack.publish(DISPUTE_RESOLVED, lender(stack), loan_id, data)


async def hold(stack: Stack, loan_id: str, hold_id: str) -> None:
    data = HoldPlaced(loan_id=loan_id, hold_id=hold_id, reason=HoldReason.DISPUTE, placed_at=now())
    await stack.publish(HOLD_PLACED, lender(stack), loan_id, data)


async def lift(stack: Stack, loan_id: str, hold_id: str) -> None:
    data = HoldLifted(loan_id=loan_id, hold_id=hold_id, lifted_at=now())
    await stack.publish(HOLD_LIFTED, lender(stack), loan_id, data)


def link_in(body: str, base: str) -> str:
    (link,) = [word for word in body.split() if word.startswith(f"{base}/b/")]
    return link


async def test_every_message_links_to_the_borrowers_page_and_the_token_is_never_kept_or_logged(
    stack: Stack, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = settings_of(stack)
    base = settings.borrower_base_url.rstrip("/")
    loan_id, phone = await stack.report_loan()
    await stack.make_due(loan_id, step=1)
    by_email, _ = await stack.report_loan()  # another loan: one message each, under any cap
    await stack.make_due(by_email, step=EMAIL_STEP)
    address = stack.borrower_emails[by_email]

    async def both_arrived() -> bool:
        return bool(stack.providers.journal.messages(phone)) and bool(
            stack.providers.journal.messages(address)
        )

    await eventually(both_arrived, within=30)
    (sms,) = stack.providers.journal.messages(phone)
    (email,) = stack.providers.journal.messages(address)
    tokens = []
    for message, loan in ((sms, loan_id), (email, by_email)):
        link = link_in(message.body, base)
        token = link.removeprefix(f"{base}/b/")
        claims = settings.borrower_links().open(token)
        assert (claims.lender_id, claims.loan_id, claims.borrower_ref) == (
            lender(stack),
            loan,
            await stack.borrower_ref(loan),
        )
        tokens.append(token)
    assert email.list_unsubscribe == f"<{base}/b/{tokens[1]}/unsubscribe>"
    assert email.list_unsubscribe_post == "List-Unsubscribe=One-Click"
    assert "reply UNSUBSCRIBE" not in email.body
    assert "退订" in sms.body  # the SMS opt-out notice is still there (replies are read)
    tables = await every_table(stack)
    sealed_part = [token.split(".", 2)[2] for token in tokens]
    for needle in (*tokens, *sealed_part):
        assert occurrences(tables, needle) == []
    assert caplog.records  # the sender's and its HTTP client's records were captured
    logged = caplog.text + capsys.readouterr().out
    for needle in (*tokens, *sealed_part):
        assert needle not in logged


async def test_e_mail_stops_once_the_borrower_opts_out_of_it_on_their_page(stack: Stack) -> None:
    loan_id, _ = await stack.report_loan()
    borrower_ref = await stack.borrower_ref(loan_id)
    opted_out = ContactPreferencesUpdated(
        borrower_ref=borrower_ref,
        preferences=ContactPreferences(opted_out_channels=[Channel.EMAIL]),
        effective_at=now(),
    )
    await stack.publish(CONTACT_PREFERENCES_UPDATED, lender(stack), borrower_ref, opted_out)

    async def email_cancelled() -> dict[str, Any] | None:
        for n in await stack.notifications(loan_id):
            if n["channel"] == "email" and n["status"] == "cancelled":
                return n
        return None

    cancelled = await eventually(email_cancelled, within=30)
    assert cancelled["reason"] == "opted_out:email"
    await stack.make_due(loan_id, step=None)
    await wait_status(stack, loan_id, "reminder", "delivered")
    assert stack.providers.journal.messages(stack.borrower_emails[loan_id]) == []
    assert {n["status"] for n in await stack.notifications(loan_id) if n["channel"] == "email"} == {
        "cancelled"
    }


@pytest.mark.parametrize("kind", ["dispute", "agency-dispute"])
async def test_a_dispute_hold_stops_reminders_until_that_very_hold_is_lifted(
    stack: Stack, kind: str
) -> None:
    loan_id, phone = await stack.report_loan()
    dispute_id = uuid4().hex[:8]
    hold_id = f"{kind}:{dispute_id}"
    if kind == "dispute":
        await hold(stack, loan_id, hold_id)
    else:
        raised = DisputeRaised(
            dispute_id=dispute_id,
            assignment_id="A-1",
            loan_id=loan_id,
            borrower_ref=await stack.borrower_ref(loan_id),
            agency_id="agency-1",
            reason="the borrower says the amount is wrong",
            raised_at=now(),
        )
        await stack.publish(DISPUTE_RAISED, lender(stack), loan_id, raised)

    async def all_cancelled() -> bool:
        found = await of_kind(stack, loan_id, "reminder")
        return bool(found) and {n["status"] for n in found} == {"cancelled"}

    await eventually(all_cancelled, within=30)
    await stack.make_due(loan_id, step=None)
    await lift(stack, loan_id, hold_id)

    async def resumed() -> list[dict[str, Any]] | None:
        return await pending_reminders(stack, loan_id) or None

    await eventually(resumed, within=30)
    assert stack.providers.journal.messages(phone) == []  # nothing went out while held
    await stack.make_due(loan_id, step=None)
    await wait_status(stack, loan_id, "reminder", "delivered")
    assert stack.providers.journal.messages(phone)


async def test_a_rejected_dispute_is_answered_while_its_hold_is_still_on(stack: Stack) -> None:
    loan_id, phone = await stack.report_loan()
    await hold(stack, loan_id, "dispute:D1")
    await resolve(stack, loan_id, DisputeOutcome.REJECTED, "D1", "dispute:D1")
    notice = await wait_status(stack, loan_id, "dispute_outcome", "delivered")
    assert (notice["channel"], notice["template"]) == ("sms", "dispute_rejected_sms")
    (message,) = stack.providers.journal.messages(phone)
    assert "异议未能成立" in message.body  # zh-CN, the borrower's language
    link_in(message.body, settings_of(stack).borrower_base_url.rstrip("/"))
    assert await pending_reminders(stack, loan_id) == []  # the hold is still on

    async def published() -> list[str] | None:
        types = await stack.published_types(loan_id)
        return types if "collections.notification.delivered" in types else None

    types = await eventually(published, within=30)
    assert "collections.notification.sent" in types


async def test_an_upheld_dispute_that_closes_the_loan_is_still_answered(stack: Stack) -> None:
    loan_id, _ = await stack.report_loan(locale="en-US")
    address = stack.borrower_emails[loan_id]
    await hold(stack, loan_id, "dispute:D2")
    borrower_ref = await stack.borrower_ref(loan_id)
    opted_out = ContactPreferencesUpdated(
        borrower_ref=borrower_ref,
        preferences=ContactPreferences(opted_out_channels=[Channel.SMS]),
        effective_at=now(),
    )
    await stack.publish(CONTACT_PREFERENCES_UPDATED, lender(stack), borrower_ref, opted_out)
    await resolve(stack, loan_id, DisputeOutcome.UPHELD, "D2", "dispute:D2")
    closed = LoanClosed(loan_id=loan_id, reason=ClosureReason.DISPUTE_UPHELD, closed_at=now())
    await stack.publish(LOAN_CLOSED, lender(stack), loan_id, closed)
    notice = await wait_status(stack, loan_id, "dispute_outcome", "sent")
    assert (notice["channel"], notice["template"]) == ("email", "dispute_upheld_email")

    async def arrived() -> bool:
        return bool(stack.providers.journal.messages(address))

    await eventually(arrived, within=30)
    (message,) = stack.providers.journal.messages(address)
    assert message.subject == "Demo Consumer Finance: your dispute was upheld"
    assert message.list_unsubscribe_post == "List-Unsubscribe=One-Click"


async def test_an_access_request_is_answered_sealed_with_what_is_held_once_per_request(
    stack: Stack,
) -> None:
    name = f"Access {uuid4().hex[:6]}"
    loan_id, phone = await stack.report_loan(name=name)
    await stack.make_due(loan_id, step=1)
    await wait_status(stack, loan_id, "reminder", "delivered")
    request_id = await request_data(stack, loan_id, DataRequestKind.ACCESS)
    await request_data(stack, loan_id, DataRequestKind.ACCESS, request_id)  # delivered again
    later = await request_data(stack, loan_id, DataRequestKind.ACCESS)  # same partition, after

    async def answered() -> list[DataRequestAnswered] | None:
        return await answers_to(stack, later) or None

    await eventually(answered, within=30)  # so the second delivery was consumed before it
    (answer,) = await answers_to(stack, request_id)
    assert (answer.service, answer.kind, answer.loan_id) == ("notifier", "access", loan_id)
    assert answer.answer is None
    data = opened(stack, answer)
    held = {(item.category, item.value) for item in data.personal_data}
    assert {("name", name), ("phone", phone), ("email", stack.borrower_emails[loan_id])} <= held
    (contact,) = data.contacts
    assert (contact.channel, contact.kind, contact.outcome) == ("sms", "reminder", "delivered")
    assert [s.party_id for s in data.shared_with] == ["twilio"]


async def test_a_deletion_erases_the_contact_details_of_ended_loans_and_says_what_is_kept(
    stack: Stack,
) -> None:
    owed_id, _ = await stack.report_loan()
    borrower_id = await stack.borrower_id(owed_id)
    ended_id, _ = await stack.report_loan(id=borrower_id)  # the same borrower, another loan
    assert await stack.borrower_ref(ended_id) == await stack.borrower_ref(owed_id)
    await stack.make_due(owed_id, step=1)
    await wait_status(stack, owed_id, "reminder", "delivered")
    stack.borrower_ids[ended_id] = borrower_id
    closed = LoanClosed(loan_id=ended_id, reason=ClosureReason.SETTLED, closed_at=now())
    await stack.publish(LOAN_CLOSED, lender(stack), ended_id, closed)
    await eventually(lambda: _state_is(stack, ended_id, "closed"), within=30)
    request_id = await request_data(stack, owed_id, DataRequestKind.DELETION)

    async def answered() -> list[DataRequestAnswered] | None:
        return await answers_to(stack, request_id) or None

    (answer,) = await eventually(answered, within=30)
    retention = {item.category: item for item in opened(stack, answer).retention}
    ended = retention[f"contact details (name, phone, e-mail) of the loan ending {ended_id[-4:]}"]
    owed = retention[f"contact details (name, phone, e-mail) of the loan ending {owed_id[-4:]}"]
    assert ended.erased
    assert not owed.erased
    assert owed.legal_basis is not None
    assert owed.legal_basis.startswith("PIPL art. 13(2)")
    records = next(item for c, item in retention.items() if c.startswith("contacts made"))
    assert records.legal_basis is not None
    assert records.legal_basis.startswith("CN-08")
    assert records.kept_until is not None
    assert records.kept_until.year - now().year in (4, 5)
    assert await _contact_of(stack, ended_id) == {}
    assert await _contact_of(stack, owed_id) != {}


async def test_retention_leaves_no_contact_detail_of_the_borrower_in_any_table(
    stack: Stack,
) -> None:
    name = f"Retention {uuid4().hex[:6]}"
    loan_id, phone = await stack.report_loan(name=name)
    address = stack.borrower_emails[loan_id]
    await stack.make_due(loan_id, step=1)
    await wait_status(stack, loan_id, "reminder", "delivered")
    sealed = await _contact_of(stack, loan_id)
    assert sealed
    sealed_values = [str(v) for v in sealed.values() if len(str(v)) > 16]
    phone_refs = await _phone_refs(stack, loan_id)
    assert phone_refs
    before = await every_table(stack)
    assert occurrences(before, sealed_values[0]) == ["loans"]
    closed = LoanClosed(loan_id=loan_id, reason=ClosureReason.WRITTEN_OFF, closed_at=now())
    await stack.publish(LOAN_CLOSED, lender(stack), loan_id, closed)

    async def erased() -> bool:
        return await _contact_of(stack, loan_id) == {}

    await eventually(erased, within=30)  # NOTIFIER_CONTACT_RETENTION_DAYS=0 here
    await hold(stack, loan_id, "H-after")  # the consumer writes the loan's row again

    async def held_and_still_erased() -> bool:
        runtime = stack.platform.runtime("notifier")
        async with runtime.sessions() as session:
            row = (
                await session.execute(
                    text(
                        "SELECT holds -> 'H-after' IS NOT NULL, contact_sealed IS NULL FROM loans "
                        "WHERE loan_id = :loan"
                    ),
                    {"loan": loan_id},
                )
            ).one()
        assert row[0] is False or row[1] is True  # SQL NULL, not JSON null
        return bool(row[0])

    await eventually(held_and_still_erased, within=30)
    after = await every_table(stack)
    for needle in (*sealed_values, *phone_refs, name, phone, phone.lstrip("+"), address):
        assert occurrences(after, needle) == [], needle
    # What stays, and why: the loan's row (ids, the borrower's pseudonym, language and zone,
    # state), so a later event about it is understood; its notifications and their history,
    # and the contact ledger: the records of contacts made the law keeps (CN-08, five years),
    # with no name, number, address or text in them.
    borrower_ref = await stack.borrower_ref(loan_id)
    assert occurrences(after, borrower_ref)
    assert {"loans", "notifications", "contacts"} <= set(occurrences(after, loan_id))


async def _state_is(stack: Stack, loan_id: str, state: str) -> bool:
    runtime = stack.platform.runtime("notifier")
    async with runtime.sessions() as session:
        found = await session.scalar(
            text("SELECT state FROM loans WHERE loan_id = :loan"), {"loan": loan_id}
        )
    return bool(found == state)


async def _contact_of(stack: Stack, loan_id: str) -> dict[str, Any]:
    runtime = stack.platform.runtime("notifier")
    async with runtime.sessions() as session:
        found = await session.scalar(
            text("SELECT contact_sealed FROM loans WHERE loan_id = :loan"), {"loan": loan_id}
        )
    assert found is None or isinstance(found, dict)
    return found or {}  # NULL: erased


async def _phone_refs(stack: Stack, loan_id: str) -> list[str]:
    runtime = stack.platform.runtime("notifier")
    async with runtime.sessions() as session:
        found = await session.scalar(
            text("SELECT phone_refs FROM loans WHERE loan_id = :loan"), {"loan": loan_id}
        )
    return [ref.partition(":")[2] for ref in found or []]
