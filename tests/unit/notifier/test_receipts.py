"""Receipts and replies on fakes: delivery reports settle notifications, a report of a message
nobody knows changes nothing, a STOP reply opts the borrower out of SMS."""

from datetime import timedelta
from uuid import UUID

import pytest

from services.notifier.application.errors import UnknownProviderError
from services.notifier.application.ports import DeliveryReport, InboundReply
from shared.contact_rules import Outcome
from shared.events.notifications import NotificationStatus
from shared.vocabulary import Channel
from tests.unit.notifier.fakes import FakeParser
from tests.unit.notifier.world import PHONE, World

SCHEDULED, SENT = NotificationStatus.SCHEDULED, NotificationStatus.SENT
DELIVERED, FAILED = NotificationStatus.DELIVERED, NotificationStatus.FAILED
CANCELLED = NotificationStatus.CANCELLED


async def no_body() -> bytes:
    return b""


def report(message_id: str, status: str, world: World, error: str | None = None) -> DeliveryReport:
    return DeliveryReport("twilio", message_id, status, error, world.now)  # type: ignore[arg-type]


async def take(world: World, *items: object, notification: UUID | None = None) -> None:
    world.parsers["twilio"] = FakeParser(list(items))  # type: ignore[arg-type]
    await world.receipts.take(
        "twilio", url="", headers={}, body=no_body, notification_id=notification
    )


async def sent(world: World) -> UUID:
    n = world.due(world.loan())
    await world.sender.send_due()
    world.db.outbox.clear()
    return n


async def test_a_delivery_report_settles_a_sent_message() -> None:
    world = World()
    n = await sent(world)
    await take(world, report("SM1", "delivered", world))
    assert world.db.stored(n).status is DELIVERED
    assert world.db.statuses(n) == [SENT, DELIVERED]
    assert world.db.event_types() == ["collections.notification.delivered"]
    contact, _ = world.db.contacts[f"notifier:{n}"]
    assert contact.outcome is Outcome.DELIVERED


async def test_a_failure_report_records_the_providers_code() -> None:
    world = World()
    n = await sent(world)
    await take(world, report("SM1", "failed", world, error="30006"))
    stored = world.db.stored(n)
    assert (stored.status, stored.reason) == (FAILED, "30006")


async def test_a_report_never_moves_a_message_back() -> None:
    world = World()
    n = await sent(world)
    await take(world, report("SM1", "delivered", world))
    await take(world, report("SM1", "sent", world))
    assert world.db.statuses(n) == [SENT, DELIVERED]


async def test_a_report_of_a_message_whose_sender_died_settles_it_sent() -> None:
    """Named by ``?notification=``: it is sent (never again) and in the ledger."""
    world = World()
    world.sms.answers = [RuntimeError("the process is killed")]
    n = world.due(world.loan())
    await world.sender.send_due()
    assert world.db.stored(n).send_began_at is not None
    await take(world, report("SM-late", "delivered", world), notification=n)
    stored = world.db.stored(n)
    assert (stored.status, stored.provider_message_id) == (DELIVERED, "SM-late")
    assert world.db.statuses(n) == [SENT, DELIVERED]
    assert f"notifier:{n}" in world.db.contacts
    world.later(timedelta(hours=1))
    assert await world.sender.send_due() + await world.sender.settle_in_doubt() == 0


async def test_a_report_of_an_unknown_message_changes_nothing() -> None:
    world = World()
    n = await sent(world)
    await take(world, report("SM-nobody-sent", "delivered", world))
    assert world.db.statuses(n) == [SENT]
    assert world.db.outbox == []


@pytest.mark.parametrize("body", ["STOP", "退订", " td。"])
async def test_a_stop_reply_opts_the_borrower_out_of_sms(body: str) -> None:
    world = World()
    case = world.loan()
    text, mail = world.due(case), world.due(case, Channel.EMAIL, step=3)
    await take(world, InboundReply("twilio", PHONE, body, world.now))
    prefs = world.db.preferences[(case.lender_id, case.borrower_ref)]
    assert set(prefs.reply_opt_outs) == {Channel.SMS}
    assert world.db.stored(text).status is CANCELLED
    assert world.db.stored(mail).status is SCHEDULED
    assert "collections.borrower.opt-out-recorded" in world.db.event_types()


async def test_a_reply_that_is_not_an_opt_out_changes_nothing() -> None:
    world = World()
    case = world.loan()
    n = world.due(case)
    await take(world, InboundReply("twilio", PHONE, "I will pay tomorrow, stop calling", world.now))
    assert world.db.preferences == {}
    assert world.db.stored(n).status is SCHEDULED
    assert world.db.outbox == []


async def test_a_provider_that_does_not_report_here_is_refused() -> None:
    world = World()
    with pytest.raises(UnknownProviderError):
        await world.receipts.take("aliyun", url="", headers={}, body=no_body)
