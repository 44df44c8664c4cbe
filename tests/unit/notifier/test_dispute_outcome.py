"""The answer to a dispute on fakes: a notice in the borrower's language, on a channel they
have not opted out of, that neither a hold still on the loan nor its closure by this very
dispute stops, but that the contact rules' hours still govern; a borrower's or an agency's
dispute hold stops reminders until the lender lifts that very hold."""

from datetime import UTC, datetime, timedelta

from services.notifier.application.lifecycle import LifecycleHandlers
from services.notifier.domain.files import Case, LoanState
from services.notifier.domain.lifecycle import CaseBatch
from shared.events.assignments import DisputeRaised
from shared.events.borrowers import DisputeOutcome, DisputeResolved, DisputeSource
from shared.events.models import (
    ClosureReason,
    ContactPreferences,
    ContactPreferencesUpdated,
    HoldLifted,
    HoldPlaced,
    HoldReason,
    LoanClosed,
)
from shared.events.notifications import NotificationKind, NotificationStatus
from shared.vocabulary import Channel
from tests.unit.notifier.support import book
from tests.unit.notifier.world import LENDER, World

SCHEDULED, SENT, CANCELLED = (
    NotificationStatus.SCHEDULED,
    NotificationStatus.SENT,
    NotificationStatus.CANCELLED,
)


def resolved(
    case: Case, outcome: DisputeOutcome, at: datetime, dispute: str = "D1"
) -> DisputeResolved:
    return DisputeResolved(
        loan_id=case.loan_id,
        dispute_id=dispute,
        borrower_ref=case.borrower_ref,
        source=DisputeSource.BORROWER,
        outcome=outcome,
        hold_id=f"dispute:{dispute}",
        resolved_at=at,
    )


def held(case: Case, at: datetime, hold_id: str = "dispute:D1") -> HoldPlaced:
    return HoldPlaced(
        loan_id=case.loan_id, hold_id=hold_id, reason=HoldReason.DISPUTE, placed_at=at
    )


async def consume(world: World, *events: object) -> None:
    handlers = LifecycleHandlers(book(), world.contact_details, clock=world.db.clock)
    async with world.unit_of_work() as uow:
        await handlers.apply(uow, [(LENDER, e) for e in events])
        await uow.commit()


def outcome_notices(world: World) -> list:  # type: ignore[type-arg]
    return [
        n for n in world.db.notifications.values() if n.kind is NotificationKind.DISPUTE_OUTCOME
    ]


async def test_a_rejected_dispute_is_answered_by_text_in_chinese_while_the_hold_is_still_on() -> (
    None
):
    world = World()
    case = world.loan()
    await consume(world, held(case, world.now), resolved(case, DisputeOutcome.REJECTED, world.now))
    (notice,) = outcome_notices(world)
    assert (notice.channel, notice.template, notice.status) == (
        Channel.SMS,
        "dispute_rejected_sms",
        SCHEDULED,
    )
    assert notice.dedupe_key == "dispute:D1"
    assert await world.sender.send_due() == 1
    assert world.db.stored(notice.id).status is SENT
    (message,) = world.sms.sent
    assert "异议未能成立" in message.body
    assert "https://borrower.example.com/b/b1." in message.body
    assert "collections.notification.sent" in world.db.event_types()


async def test_an_upheld_dispute_that_closes_the_loan_is_still_answered() -> None:
    world = World()
    case = world.loan()
    reminder = world.due(case)
    closed = LoanClosed(
        loan_id=case.loan_id, reason=ClosureReason.DISPUTE_UPHELD, closed_at=world.now
    )
    await consume(
        world,
        held(case, world.now),
        resolved(case, DisputeOutcome.UPHELD, world.now),
        closed,
    )
    assert world.db.stored(reminder).status is CANCELLED
    assert world.db.cases[case.key].state is LoanState.CLOSED
    (notice,) = outcome_notices(world)
    assert notice.status is SCHEDULED
    assert await world.sender.send_due() == 1
    assert world.db.stored(notice.id).status is SENT
    (message,) = world.sms.sent
    assert "异议已核实成立" in message.body


async def test_the_answer_goes_by_e_mail_when_the_borrower_opted_out_of_texts() -> None:
    world = World()
    case = world.loan()
    opted_out = ContactPreferencesUpdated(
        borrower_ref=case.borrower_ref,
        preferences=ContactPreferences(opted_out_channels=[Channel.SMS]),
        effective_at=world.now,
    )
    await consume(world, opted_out, resolved(case, DisputeOutcome.UPHELD, world.now))
    (notice,) = outcome_notices(world)
    assert (notice.channel, notice.template) == (Channel.EMAIL, "dispute_upheld_email")
    await world.sender.send_due()
    (message,) = world.email.sent
    assert message.subject == "Acme：您的异议已核实成立"
    assert message.unsubscribe_url is not None
    assert message.unsubscribe_url.endswith("/unsubscribe")


async def test_a_borrower_opted_out_of_every_channel_gets_no_answer() -> None:
    world = World()
    case = world.loan()
    opted_out = ContactPreferencesUpdated(
        borrower_ref=case.borrower_ref,
        preferences=ContactPreferences(opted_out_channels=[Channel.SMS, Channel.EMAIL]),
        effective_at=world.now,
    )
    await consume(world, opted_out, resolved(case, DisputeOutcome.REJECTED, world.now))
    assert outcome_notices(world) == []


async def test_the_answer_waits_for_the_hours_the_rules_allow() -> None:
    world = World()
    case = world.loan(zone="America/Sao_Paulo")  # 23:00 there: CN-01's quiet hours
    await consume(world, resolved(case, DisputeOutcome.REJECTED, world.now))
    (notice,) = outcome_notices(world)
    await world.sender.send_due()
    stored = world.db.stored(notice.id)
    assert world.db.statuses(notice.id)[-2:] == [NotificationStatus.SUPPRESSED, SCHEDULED]
    assert "CN-01" in stored.rule_ids
    assert stored.due_at > world.now
    assert world.sms.sent == []


async def test_an_answer_for_a_loan_the_notifier_does_not_know_is_ignored() -> None:
    world = World()
    case = world.loan()
    del world.db.cases[case.key]
    await consume(world, resolved(case, DisputeOutcome.REJECTED, world.now))
    assert outcome_notices(world) == []


def test_a_hold_and_the_loans_end_stop_reminders_but_not_the_answer() -> None:
    now = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    world = World()
    case = world.loan()
    b = CaseBatch(book(), now)
    b.report(case)
    b.dispute_resolved(LENDER, resolved(case, DisputeOutcome.REJECTED, now))
    b.hold_placed(LENDER, held(case, now, "dispute:D2"))
    b.closed(LENDER, LoanClosed(loan_id=case.loan_id, reason=ClosureReason.SETTLED, closed_at=now))
    kinds = {n.kind: n.status for items in b.pending.values() for n in items}
    assert kinds[NotificationKind.DISPUTE_OUTCOME] is SCHEDULED
    assert kinds[NotificationKind.REMINDER] is CANCELLED
    assert b.loans[case.key].ended_at == now


async def test_an_agency_dispute_holds_reminders_until_the_lender_lifts_that_hold() -> None:
    world = World()
    case = world.loan()
    reminder = world.due(case)
    raised = DisputeRaised(
        assignment_id="A1",
        agency_id="agency-1",
        loan_id=case.loan_id,
        borrower_ref=case.borrower_ref,
        dispute_id="X9",
        reason="the borrower says it is not theirs",
        raised_at=world.now,
    )
    await consume(world, raised)
    assert world.db.stored(reminder).status is CANCELLED
    assert list(world.db.cases[case.key].holds) == ["agency-dispute:X9"]
    world.later(timedelta(days=1))
    await consume(
        world, HoldLifted(loan_id=case.loan_id, hold_id="agency-dispute:X9", lifted_at=world.now)
    )
    assert world.db.cases[case.key].holds == {}
    resumed = [
        n
        for n in world.db.notifications.values()
        if n.kind is NotificationKind.REMINDER and n.status is SCHEDULED
    ]
    assert resumed
    assert all(n.due_at >= world.now for n in resumed)


async def test_lifting_another_hold_leaves_the_dispute_hold_in_place() -> None:
    world = World()
    case = world.loan()
    await consume(world, held(case, world.now))
    await consume(
        world, HoldLifted(loan_id=case.loan_id, hold_id="dispute:OTHER", lifted_at=world.now)
    )
    assert list(world.db.cases[case.key].holds) == ["dispute:D1"]
    assert not [n for n in world.db.notifications.values() if n.status is SCHEDULED]
