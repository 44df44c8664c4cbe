"""The sender's decisions on fakes: what goes out, what the rules refuse, retries with backoff,
sends in doubt and how the provider settles them; at most one message per notification."""

from datetime import timedelta
from uuid import uuid4

from services.notifier.application.ports import ProviderError
from services.notifier.application.sending import Claim
from shared.contact_rules import Party
from shared.events.notifications import NotificationStatus
from shared.vocabulary import Channel
from tests.unit.notifier.fakes import accepted
from tests.unit.notifier.world import LEASE, PHONE, UNCONFIRMED_AFTER, World

SCHEDULED, SENT, FAILED = (
    NotificationStatus.SCHEDULED,
    NotificationStatus.SENT,
    NotificationStatus.FAILED,
)
SUPPRESSED, CANCELLED = NotificationStatus.SUPPRESSED, NotificationStatus.CANCELLED


def ambiguous() -> ProviderError:
    return ProviderError(
        "no answer (ReadTimeout)", retriable=False, provider="twilio", ambiguous=True
    )


async def test_a_due_reminder_goes_out_once_and_is_recorded_sent() -> None:
    world = World()
    n = world.due(world.loan())
    assert await world.sender.send_due() == 1
    stored = world.db.stored(n)
    assert (stored.status, stored.attempts, stored.provider_message_id) == (SENT, 1, "SM1")
    assert stored.send_began_at is None
    assert stored.claim_token is None
    assert world.db.statuses(n) == [SENT]
    assert world.db.event_types() == ["collections.notification.sent"]
    (message,) = world.sms.sent
    assert (message.to, message.idempotency_key) == (PHONE, str(n))
    contact, key = world.db.contacts[f"notifier:{n}"]
    assert (contact.party, key) == (Party.lender(), ("lender-1", "L1"))
    assert await world.sender.send_due() == 0


async def test_a_reminder_the_rules_refuse_is_suppressed_and_waits_for_next_allowed_at() -> None:
    world = World()
    n = world.due(world.loan(zone="America/Sao_Paulo"))  # 23:00 there: CN-01's quiet hours
    await world.sender.send_due()
    stored = world.db.stored(n)
    assert world.db.statuses(n) == [SUPPRESSED, SCHEDULED]
    assert "CN-01" in stored.rule_ids
    assert stored.next_allowed_at is not None
    assert stored.due_at == stored.next_allowed_at
    assert stored.due_at > world.now
    assert (stored.status, stored.attempts, world.sms.sent) == (SCHEDULED, 0, [])
    assert world.db.event_types() == [
        "collections.notification.suppressed",
        "collections.notification.scheduled",
    ]


async def test_a_provider_failure_is_retried_with_backoff_then_fails() -> None:
    world = World()
    world.sms.answers = [ProviderError("HTTP 503", retriable=True) for _ in range(3)]
    n = world.due(world.loan())
    waits = []
    while world.db.stored(n).status is SCHEDULED:
        assert await world.sender.send_due() == 1
        stored = world.db.stored(n)
        if stored.status is SCHEDULED:
            waits.append(stored.due_at - world.now)
            assert stored.reason == "HTTP 503"
            assert await world.sender.send_due() == 0  # not before its time
            world.later(stored.due_at - world.now)
    stored = world.db.stored(n)
    assert waits == [timedelta(minutes=15), timedelta(minutes=30)]  # cn-default's backoff
    assert (stored.status, stored.attempts, stored.reason) == (FAILED, 3, "HTTP 503")
    assert world.db.statuses(n) == [SCHEDULED, SCHEDULED, FAILED]
    assert len(world.sms.sent) == 3


async def test_a_rejected_message_fails_at_once() -> None:
    world = World()
    world.sms.answers = [ProviderError("HTTP 400, code 21211", retriable=False)]
    n = world.due(world.loan())
    await world.sender.send_due()
    assert (world.db.stored(n).status, world.db.stored(n).reason) == (
        FAILED,
        "HTTP 400, code 21211",
    )


async def test_an_answer_that_never_came_leaves_the_send_in_doubt_not_retried() -> None:
    world = World()
    world.sms.answers = [ambiguous()]
    n = world.due(world.loan())
    await world.sender.send_due()
    stored = world.db.stored(n)
    assert stored.status is SCHEDULED
    assert stored.send_began_at == world.now
    assert "waiting for the provider's report" in (stored.reason or "")
    assert world.db.leases[n] == world.now + LEASE
    assert world.db.outbox == []
    world.later(LEASE * 2)
    assert await world.sender.send_due() == 0, "a send that may have gone out was claimed as due"
    assert len(world.sms.sent) == 1


async def test_a_send_in_doubt_the_lookup_finds_is_recorded_sent_once() -> None:
    world = World()
    world.sms.answers = [ambiguous()]
    n = world.due(world.loan())
    await world.sender.send_due()
    assert await world.sender.settle_in_doubt() == 0  # its lease (the report's time) runs
    world.later(LEASE + timedelta(seconds=1))
    world.sms.found = accepted("SM-found")
    assert await world.sender.settle_in_doubt() == 1
    stored = world.db.stored(n)
    assert (stored.status, stored.provider_message_id) == (SENT, "SM-found")
    assert stored.reason == "confirmed by the provider's lookup"
    assert stored.send_began_at is None
    assert f"notifier:{n}" in world.db.contacts
    assert (len(world.sms.sent), len(world.sms.asked)) == (1, 1)
    assert await world.sender.send_due() + await world.sender.settle_in_doubt() == 0


async def test_a_send_in_doubt_that_did_not_go_out_is_sent_once_again() -> None:
    world = World()
    world.sms.answers = [ambiguous()]
    n = world.due(world.loan())
    await world.sender.send_due()
    world.later(LEASE + timedelta(seconds=1))
    world.sms.found = None  # every provider shows it did not go out
    assert await world.sender.settle_in_doubt() == 1
    stored = world.db.stored(n)
    assert (stored.status, stored.send_began_at) == (SCHEDULED, None)
    assert stored.reason == "the provider shows the send did not go out"
    assert await world.sender.send_due() == 1
    stored = world.db.stored(n)
    assert (stored.status, stored.attempts) == (SENT, 2)
    assert world.db.statuses(n) == [SCHEDULED, SENT]
    assert len(world.sms.sent) == 2
    assert await world.sender.send_due() + await world.sender.settle_in_doubt() == 0


async def test_an_smtp_send_in_doubt_counts_as_sent_once_the_wait_is_over() -> None:
    world = World()
    world.email.answers = [
        ProviderError("no answer", retriable=False, provider="smtp", ambiguous=True)
    ]
    world.email.found = ProviderError("SMTP cannot be asked", retriable=False, provider="smtp")
    n = world.due(world.loan(), Channel.EMAIL, step=3)
    began = world.now
    await world.sender.send_due()
    world.later(LEASE + timedelta(seconds=1))
    assert await world.sender.settle_in_doubt() == 1
    stored = world.db.stored(n)
    assert stored.status is SCHEDULED
    assert stored.reason == "outcome unknown, provider not able to tell yet (SMTP cannot be asked)"
    world.later(UNCONFIRMED_AFTER)
    assert await world.sender.settle_in_doubt() == 1
    stored = world.db.stored(n)
    assert (stored.status, stored.reason) == (SENT, "unconfirmed: counted as sent, never repeated")
    contact, _ = world.db.contacts[f"notifier:{n}"]
    assert contact.at == began
    assert len(world.email.sent) == 1
    assert await world.sender.send_due() + await world.sender.settle_in_doubt() == 0


async def test_a_message_that_cannot_be_composed_fails_alone() -> None:
    world = World()
    good = world.due(world.loan("L1"))
    bad_loan = world.loan("L2")
    bad = world.due(bad_loan)
    world.contact_details.unreadable.add(bad_loan.loan_id)
    assert await world.sender.send_due() == 2
    failed = world.db.stored(bad)
    assert (failed.status, failed.reason) == (FAILED, "not composed (ValueError)")
    assert world.db.stored(good).status is SENT
    assert [m.idempotency_key for m in world.sms.sent] == [str(good)]


async def test_a_stop_the_consumer_recorded_after_the_claim_wins() -> None:
    world = World()
    n = world.due(world.loan())
    token = uuid4()
    async with world.unit_of_work() as uow:
        claimed = await uow.sending.claim_due(10, LEASE, token)
    world.db.notifications[n].status = CANCELLED  # the borrower paid meanwhile
    await world.sending.send_due(Claim(token, claimed))
    assert world.sms.sent == []
    assert world.db.stored(n).status is CANCELLED
    assert world.db.outbox == []


async def test_a_sender_whose_lease_ran_out_sends_nothing() -> None:
    world = World()
    n = world.due(world.loan())
    stale, fresh = uuid4(), uuid4()
    async with world.unit_of_work() as uow:
        claimed = await uow.sending.claim_due(10, LEASE, stale)
    world.later(LEASE + timedelta(seconds=1))
    async with world.unit_of_work() as uow:
        assert [c.id for c in await uow.sending.claim_due(10, LEASE, fresh)] == [n]
    await world.sending.send_due(Claim(stale, claimed))
    assert world.sms.sent == []
    assert world.db.stored(n).claim_token == fresh


async def test_a_reminder_without_an_address_on_its_channel_is_cancelled() -> None:
    world = World()
    n = world.due(world.loan(email=False), Channel.EMAIL, step=3)
    await world.sender.send_due()
    stored = world.db.stored(n)
    assert (stored.status, stored.reason) == (CANCELLED, "no_email_address")
    assert world.email.sent == []
