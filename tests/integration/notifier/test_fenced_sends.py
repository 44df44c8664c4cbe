"""The send path's worst day, on real PostgreSQL, Kafka and the local providers: a crash between
a provider's acceptance and the record, a stale sender, a cancellation in flight, one bad
message in a batch, an answer that never came. At most one message per notification, unless
the provider shows the first did not go out.

The platform's own sender is off here: each test drives a ``Sender`` built as the service
builds it, with a dispatcher wrapped where a fault must strike at one exact moment.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from services.notifier.adapters.providers.base import OutgoingMessage, ProviderError, SendReceipt
from services.notifier.adapters.providers.dispatch import ChannelDispatcher, build_dispatchers
from services.notifier.adapters.sending_store import begin_sends, claim_due
from services.notifier.adapters.unit_of_work import NotifierUnitOfWork
from services.notifier.application.ports import Dispatcher
from services.notifier.settings import NotifierSettings
from services.notifier.wiring import build_sender, load_rules
from services.notifier.workers import Sender
from shared.db.engine import transaction
from shared.vocabulary import Channel
from tests.harness import eventually
from tests.infrastructure import TestInfrastructure
from tests.integration.notifier.stack import Stack, notifier_stack
from tests.support.factories import payment

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
async def stack(infrastructure: TestInfrastructure) -> AsyncIterator[Stack]:
    """No sender of the platform's own, and no status callbacks: nobody but the provider's
    lookup can tell whether a message went out."""
    async with notifier_stack(infrastructure, reports=False, sender=False) as s:
        yield s


class Crash(BaseException):
    """The process dies: nothing after it runs (not an Exception, so nothing catches it)."""


@dataclass
class Wrapped:
    """A channel's real dispatcher, with something done after (or instead of) its send."""

    real: ChannelDispatcher
    after_send: Callable[[SendReceipt], Awaitable[SendReceipt]] | None = None
    before_send: Callable[[], Awaitable[None]] | None = None

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        if self.before_send is not None:
            await self.before_send()
        receipt = await self.real.send(message)
        return receipt if self.after_send is None else await self.after_send(receipt)

    async def find(
        self, message: OutgoingMessage, since: datetime, provider: str | None
    ) -> SendReceipt | None:
        return await self.real.find(message, since, provider)


def sender(stack: Stack, sms: Dispatcher | None = None, **options: Any) -> Sender:
    """A sender made as ``wiring`` makes it, on the stack's database and providers."""
    runtime = stack.platform.runtime("notifier")
    settings = runtime.settings
    assert isinstance(settings, NotifierSettings)
    real = build_dispatchers(settings)
    dispatchers: dict[Channel, Dispatcher] = {**real, Channel.SMS: sms or real[Channel.SMS]}
    unit_of_work = runtime.units_of_work(NotifierUnitOfWork)
    return build_sender(
        settings,
        load_rules(settings),
        unit_of_work,
        dispatchers,
        **{"lease": timedelta(seconds=1), **options},
    )


def real_sms(stack: Stack) -> ChannelDispatcher:
    settings = stack.platform.runtime("notifier").settings
    assert isinstance(settings, NotifierSettings)
    return build_dispatchers(settings)[Channel.SMS]


async def due_sms(stack: Stack) -> tuple[str, str]:
    """A loan whose first reminder, a text, is due now (and nothing else of this stack's)."""
    await settle_everything_else(stack)
    loan_id, phone = await stack.report_loan()
    await stack.make_due(loan_id, step=1)
    return loan_id, phone


async def settle_everything_else(stack: Stack) -> None:
    await sql(stack, "UPDATE notifications SET status = 'cancelled' WHERE status = 'scheduled'")


async def sql(stack: Stack, statement: str, **params: Any) -> list[Any]:
    """Run one statement on the notifier's database; the rows it returns, if any."""
    runtime = stack.platform.runtime("notifier")
    async with runtime.sessions() as session, session.begin():
        result = await session.execute(text(statement), params)
        return list(result.all()) if statement.lstrip().startswith("SELECT") else []


async def row_of(stack: Stack, loan_id: str, step: int = 1) -> Any:
    (row,) = await sql(
        stack,
        "SELECT id, status, attempts, reason, send_began_at, provider_message_id "
        "FROM notifications WHERE loan_id = :loan AND step = :step",
        loan=loan_id,
        step=step,
    )
    return row


def texts_to(stack: Stack, phone: str) -> int:
    return len(stack.providers.journal.messages(phone))


async def test_a_crash_after_the_provider_accepted_never_sends_twice(stack: Stack) -> None:
    """Finding 0: the process dies between the provider's acceptance and the record, and the
    status callback finds no notifier. After the lease, the provider is asked, not sent to."""
    loan_id, phone = await due_sms(stack)

    async def die(receipt: SendReceipt) -> SendReceipt:
        raise Crash

    with pytest.raises(Crash):
        await sender(stack, Wrapped(real_sms(stack), after_send=die)).send_due()
    assert texts_to(stack, phone) == 1
    assert (await row_of(stack, loan_id)).send_began_at is not None

    restarted = sender(stack)
    await asyncio.sleep(1.2)  # the dead sender's lease runs out
    assert await restarted.send_due() == 0, "a send that may have gone out was claimed as due"
    assert await restarted.settle_in_doubt() == 1
    row = await row_of(stack, loan_id)
    assert (row.status, row.reason) == ("sent", "confirmed by the provider's lookup")
    assert row.provider_message_id == stack.providers.journal.messages(phone)[0].provider_message_id
    assert texts_to(stack, phone) == 1


async def test_a_crash_after_alibaba_accepted_is_found_by_its_out_id(stack: Stack) -> None:
    """The crash came after a failover to Alibaba Cloud: whoever took it, it is found."""
    loan_id, phone = await due_sms(stack)
    real = real_sms(stack)

    class ThroughAlibaba(Wrapped):
        async def send(self, message: OutgoingMessage) -> SendReceipt:
            await self.real.providers[1].provider.send(message)
            raise Crash

    with pytest.raises(Crash):
        await sender(stack, ThroughAlibaba(real)).send_due()
    await asyncio.sleep(1.2)
    restarted = sender(stack)
    assert await restarted.settle_in_doubt() == 1
    row = await row_of(stack, loan_id)
    assert (row.status, row.reason) == ("sent", "confirmed by the provider's lookup")
    (text,) = stack.providers.journal.messages(phone)
    assert (text.provider, row.provider_message_id) == ("aliyun", text.provider_message_id)


async def test_a_crash_before_the_request_left_sends_once_after_the_lookup(
    stack: Stack,
) -> None:
    """Every provider shows the message did not go out: it goes, once."""
    loan_id, phone = await due_sms(stack)

    async def die_first() -> None:
        raise Crash

    with pytest.raises(Crash):
        await sender(stack, Wrapped(real_sms(stack), before_send=die_first)).send_due()
    await asyncio.sleep(1.2)
    restarted = sender(stack)
    assert await restarted.send_due() == 0
    assert await restarted.settle_in_doubt() == 1
    assert await restarted.send_due() == 1
    row = await row_of(stack, loan_id)
    assert (row.status, row.attempts) == ("sent", 2)
    assert texts_to(stack, phone) == 1


async def test_an_answer_that_never_came_waits_for_the_provider_not_a_retry(
    stack: Stack,
) -> None:
    """Finding 4: a timeout to Twilio, which has no idempotency key, is not retried blindly."""
    loan_id, phone = await due_sms(stack)

    async def lost(receipt: SendReceipt) -> SendReceipt:
        raise ProviderError(
            "no answer (ReadTimeout)", retriable=False, provider="twilio", ambiguous=True
        )

    sending = sender(stack, Wrapped(real_sms(stack), after_send=lost))
    assert await sending.send_due() == 1
    row = await row_of(stack, loan_id)
    assert row.status == "scheduled"
    assert row.send_began_at is not None
    assert "waiting for the provider's report" in row.reason
    await asyncio.sleep(1.2)
    assert await sending.send_due() == 0
    assert await sending.settle_in_doubt() == 1
    assert (await row_of(stack, loan_id)).status == "sent"
    assert texts_to(stack, phone) == 1


async def test_a_send_the_provider_shows_did_not_go_out_goes_again_once(stack: Stack) -> None:
    loan_id, phone = await due_sms(stack)
    real = real_sms(stack)

    class NeverReached(Wrapped):
        async def send(self, message: OutgoingMessage) -> SendReceipt:
            raise ProviderError(
                "no answer (ReadError)", retriable=False, provider="twilio", ambiguous=True
            )

    assert await sender(stack, NeverReached(real)).send_due() == 1
    assert texts_to(stack, phone) == 0
    await asyncio.sleep(1.2)
    again = sender(stack)
    assert await again.settle_in_doubt() == 1
    row = await row_of(stack, loan_id)
    assert row.reason == "the provider shows the send did not go out"
    assert (row.status, row.send_began_at) == ("scheduled", None)
    assert await again.send_due() == 1
    assert (await row_of(stack, loan_id)).status == "sent"
    assert texts_to(stack, phone) == 1


async def test_a_stale_sender_cannot_send_what_another_claimed(stack: Stack) -> None:
    """Finding 4: a claim is a lease with a fence. The first sender is slow past its lease; a
    second claims the row; only one of them sends."""
    loan_id, phone = await due_sms(stack)
    go = asyncio.Event()

    async def wait_for_the_other() -> None:
        await go.wait()

    slow = sender(stack, Wrapped(real_sms(stack), before_send=wait_for_the_other))
    first = asyncio.create_task(slow.send_due())
    await asyncio.sleep(1.3)  # the first sender's lease is over, its send not yet begun
    second = await sender(stack).send_due()
    go.set()
    await first
    assert second == 0 or texts_to(stack, phone) == 1
    assert texts_to(stack, phone) == 1
    assert (await row_of(stack, loan_id)).status == "sent"


async def test_the_fence_refuses_a_claim_that_is_no_longer_held(stack: Stack) -> None:
    await due_sms(stack)
    runtime = stack.platform.runtime("notifier")
    first, second = uuid4(), uuid4()
    async with transaction(runtime.sessions) as session:
        (claimed,) = await claim_due(session, 10, timedelta(seconds=0.2), first)
    await asyncio.sleep(0.3)
    async with transaction(runtime.sessions) as session:
        (again,) = await claim_due(session, 10, timedelta(seconds=5), second)
    assert again.id == claimed.id
    async with transaction(runtime.sessions) as session:
        assert await begin_sends(session, first, [claimed.id], timedelta(seconds=5)) == {}
        assert await begin_sends(session, second, [claimed.id], timedelta(seconds=5)) == {
            claimed.id: 1
        }


async def test_a_cancellation_recorded_before_the_send_began_wins(stack: Stack) -> None:
    """Finding 2: the borrower pays while the batch is being decided; nothing goes out."""
    loan_id, phone = await due_sms(stack)
    runtime = stack.platform.runtime("notifier")
    token = uuid4()
    async with transaction(runtime.sessions) as session:
        (claimed,) = await claim_due(session, 10, timedelta(seconds=30), token)
    await pay_in_full(stack, loan_id)
    async with transaction(runtime.sessions) as session:
        assert await begin_sends(session, token, [claimed.id], timedelta(seconds=30)) == {}
    assert texts_to(stack, phone) == 0


async def test_a_retry_never_revives_what_the_consumer_cancelled_meanwhile(stack: Stack) -> None:
    """Finding 2: the provider refuses (retriable) while the borrower pays in full: the
    reminder stays cancelled instead of going back to scheduled and out later."""
    loan_id, phone = await due_sms(stack)

    async def paid_then_refused() -> None:
        await pay_in_full(stack, loan_id)
        raise ProviderError("HTTP 503, code 20500", retriable=True)

    class Refusing(Wrapped):
        async def send(self, message: OutgoingMessage) -> SendReceipt:
            assert self.before_send is not None
            await self.before_send()
            raise AssertionError("unreachable")

    await sender(stack, Refusing(real_sms(stack), before_send=paid_then_refused)).send_due()
    row = await row_of(stack, loan_id)
    assert (row.status, row.reason) == ("cancelled", "paid")
    assert texts_to(stack, phone) == 0


async def test_the_sender_never_overwrites_the_loan_the_consumer_changed(stack: Stack) -> None:
    """Finding 2: a loan closed while its agency notice was in flight stays closed."""
    loan_id, phone = await due_sms(stack)
    await sql(
        stack,
        "UPDATE notifications SET kind = 'agency_notice', assignment_id = 'A-1' "
        "WHERE loan_id = :loan AND step = 1",
        loan=loan_id,
    )
    await sql(
        stack,
        "UPDATE loans SET placements = jsonb_build_array(jsonb_build_object("
        "'assignment_id', 'A-1', 'agency_id', 'agency-x', 'agency_name', 'X', "
        "'agency_phone', NULL, 'placed_at', CAST(now() AS text), 'notice_sent_at', NULL, "
        "'ended_at', NULL)) WHERE loan_id = :loan",
        loan=loan_id,
    )

    async def closed_meanwhile(receipt: SendReceipt) -> SendReceipt:
        await sql(stack, "UPDATE loans SET state = 'closed' WHERE loan_id = :loan", loan=loan_id)
        return receipt

    await sender(stack, Wrapped(real_sms(stack), after_send=closed_meanwhile)).send_due()
    ((state, placements),) = await sql(
        stack, "SELECT state, placements FROM loans WHERE loan_id = :loan", loan=loan_id
    )
    assert state == "closed"
    assert placements[0]["notice_sent_at"] is not None
    assert texts_to(stack, phone) == 1


async def test_one_message_that_cannot_be_composed_fails_alone(stack: Stack) -> None:
    """Finding 3: a contact sealed under a key no longer in the ring fails that notification
    with its reason; the rest of the batch is sent and recorded once."""
    good, good_phone = await due_sms(stack)
    bad, bad_phone = await stack.report_loan()
    await stack.make_due(bad, step=1)
    await sql(
        stack,
        "UPDATE loans SET contact_sealed = jsonb_set(contact_sealed, '{kid}', '\"gone\"') "
        "WHERE loan_id = :loan",
        loan=bad,
    )
    sending = sender(stack, lease=timedelta(seconds=5))  # the failure's log takes a while
    assert await sending.send_due() == 2
    assert (await row_of(stack, good)).status == "sent"
    failed = await row_of(stack, bad)
    assert failed.status == "failed"
    assert failed.reason.startswith("not composed")
    await asyncio.sleep(5.2)
    assert await sending.send_due() == 0
    assert (texts_to(stack, good_phone), texts_to(stack, bad_phone)) == (1, 0)


async def test_attempts_count_sends_not_claims(stack: Stack) -> None:
    """Finding 5: a reminder suppressed twice (quiet hours) still gets its retries when the
    provider then fails."""
    loan_id, phone = await due_sms(stack)
    ((zone,),) = await sql(stack, "SELECT timezone FROM loans WHERE loan_id = :loan", loan=loan_id)
    sending = sender(stack)
    for _ in range(2):
        await sql(
            stack,
            "UPDATE loans SET timezone = :zone WHERE loan_id = :loan",
            zone=night_zone(),
            loan=loan_id,
        )
        await stack.make_due(loan_id, step=1)
        await sending.send_due()
        assert (await row_of(stack, loan_id)).reason is not None
    await sql(
        stack, "UPDATE loans SET timezone = :zone WHERE loan_id = :loan", zone=zone, loan=loan_id
    )
    await stack.make_due(loan_id, step=1)
    await fail_every_sms_provider(stack, count=20)
    try:
        await sending.send_due()
    finally:
        await fail_every_sms_provider(stack, count=0)
    row = await row_of(stack, loan_id)
    assert (row.status, row.attempts) == ("scheduled", 1)
    assert row.reason.startswith("retry after") or "every provider failed" in row.reason
    assert texts_to(stack, phone) == 0


async def test_no_channel_is_planned_without_an_address(stack: Stack) -> None:
    """Finding 0: a borrower with no e-mail address gets no e-mail planned (and so none
    recorded ``failed``)."""
    loan_id, _ = await stack.report_loan(email=None)
    channels = {n["channel"] for n in await stack.notifications(loan_id)}
    assert channels == {"sms"}


async def pay_in_full(stack: Stack, loan_id: str) -> None:
    body = payment(f"P-{uuid4().hex[:8]}", "1250.00", paid_at=datetime.now(UTC).isoformat())
    answer = await stack.intake.post(
        f"/v1/loans/{loan_id}/payments", json=body, headers=stack.platform.as_lender()
    )
    assert answer.status_code in (200, 201, 202), answer.text

    async def cancelled() -> bool:
        (row,) = await sql(
            stack,
            "SELECT status FROM notifications WHERE loan_id = :loan AND step = 1",
            loan=loan_id,
        )
        return bool(row.status == "cancelled")

    await eventually(cancelled, within=30)


def night_zone() -> str:
    """A fixed-offset zone where it is now about three in the morning."""
    hour = datetime.now(UTC).hour
    offset = (3 - hour + 12) % 24 - 12
    zone = "Etc/UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    assert datetime.now(ZoneInfo(zone)).hour in (2, 3, 4, 14, 15)
    return zone


async def fail_every_sms_provider(stack: Stack, count: int) -> None:
    async with stack.providers_client() as client:
        for provider in ("twilio", "aliyun"):
            fault = {"provider": provider, "status": 503, "count": count}
            (await client.post("/v1/faults", json=fault)).raise_for_status()
