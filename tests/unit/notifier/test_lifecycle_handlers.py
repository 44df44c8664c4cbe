"""The consumer's use case and the lender's query on fakes: a run of events changes the cases
it names and publishes what changed; an unknown loan is refused."""

from decimal import Decimal

import pytest

from services.notifier.application.errors import LoanNotFoundError
from services.notifier.application.lifecycle import LifecycleHandlers
from services.notifier.application.queries import NotificationQueries
from shared.events.models import ContactPreferences, ContactPreferencesUpdated, PaymentReceived
from shared.events.money import Money
from shared.events.notifications import NotificationStatus
from shared.vocabulary import Channel
from tests.unit.notifier.support import book
from tests.unit.notifier.world import LENDER, World


async def test_a_payment_in_full_cancels_what_is_pending_and_publishes_it() -> None:
    world = World()
    case = world.loan()
    n = world.due(case)
    paid = PaymentReceived(
        loan_id=case.loan_id,
        payment_id="P1",
        amount=Money(amount=Decimal("1250.00"), currency="CNY"),
        paid_at=world.now,
        outstanding=Money(amount=Decimal("0.00"), currency="CNY"),
        cured=True,
    )
    handlers = LifecycleHandlers(book(), world.contact_details, clock=world.db.clock)
    async with world.unit_of_work() as uow:
        await handlers.apply(uow, [(LENDER, paid)])
        await uow.commit()
    assert world.db.stored(n).status is NotificationStatus.CANCELLED
    assert world.db.event_types() == ["collections.notification.cancelled"]


async def test_a_borrowers_preferences_reach_every_case_of_theirs() -> None:
    world = World()
    case = world.loan()
    n = world.due(case)
    update = ContactPreferencesUpdated(
        borrower_ref=case.borrower_ref,
        preferences=ContactPreferences(opted_out_channels=[Channel.SMS]),
        effective_at=world.now,
    )
    handlers = LifecycleHandlers(book(), world.contact_details, clock=world.db.clock)
    async with world.unit_of_work() as uow:
        await handlers.apply(uow, [(LENDER, update)])
        await uow.commit()
    assert world.db.stored(n).status is NotificationStatus.CANCELLED


async def test_the_notifications_of_an_unknown_loan_are_refused() -> None:
    world = World()
    queries = NotificationQueries(world.unit_of_work)
    with pytest.raises(LoanNotFoundError):
        await queries.of_loan(LENDER, "L-unknown")
    case = world.loan()
    n = world.due(case)
    (record,) = await queries.of_loan(LENDER, case.loan_id)
    assert (record.notification.id, record.history) == (n, [])
