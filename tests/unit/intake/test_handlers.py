"""Intake's use cases on an in-memory unit of work: what each records, refuses and publishes."""

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.application.handlers import (
    Accepted,
    IntakeHandlers,
    Refused,
    loan_record,
)
from services.intake.application.sealing import Sealing
from services.intake.domain.commands import (
    CloseLoan,
    LiftHold,
    PlaceHold,
    RecallPlacement,
    ReportOverdueLoans,
    UpdateContactPreferences,
)
from services.intake.domain.loan import LoanConflictError, LoanNotFoundError, LoanStatus
from shared.crypto import KeyRing, Pseudonymizer
from shared.events.models import ClosureReason, HoldReason
from tests.support.factories import NAME, PHONE, overdue_report, record_payment, report_as_of
from tests.unit.intake.fakes import Database, FakeUnitOfWork

LENDER = "lender-1"
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


@pytest.fixture
def handlers() -> IntakeHandlers:
    sealing = Sealing(
        storage=KeyRing.parse(KeyRing.generate_spec("k1")),
        transit=KeyRing.parse(KeyRing.generate_spec("t1")),
        pseudonyms=Pseudonymizer(b"a pseudonym key of the tests"),
    )
    return IntakeHandlers(sealing, clock=lambda: NOW)


@pytest.fixture
def db() -> Database:
    return Database()


async def report(handlers: IntakeHandlers, db: Database, *reports: object) -> list[object]:
    async with FakeUnitOfWork(db) as uow:
        results = await handlers.report_overdue_loans(
            uow,
            LENDER,
            ReportOverdueLoans(tuple(reports)),  # type: ignore[arg-type]
        )
        await uow.commit()
    return list(results)


async def test_a_report_opens_the_loan_and_publishes_one_sealed_event(
    handlers: IntakeHandlers, db: Database
) -> None:
    command = overdue_report("L-1")
    (accepted,) = await report(handlers, db, command)
    assert isinstance(accepted, Accepted)
    assert not accepted.duplicate
    (event,) = db.outbox
    assert (event.id, event.subject, event.tenantid) == (accepted.event_id, "L-1", LENDER)
    assert NAME not in event.to_bytes().decode()
    assert PHONE not in event.to_bytes().decode()
    assert db.loans[(LENDER, "L-1")].status is LoanStatus.DELINQUENT


async def test_a_resubmitted_report_is_the_event_on_record(
    handlers: IntakeHandlers, db: Database
) -> None:
    command = overdue_report("L-1")
    (first,) = await report(handlers, db, command)
    (again,) = await report(handlers, db, command)
    assert again == Accepted(first.event_id, "L-1", duplicate=True)  # type: ignore[attr-defined]
    assert len(db.outbox) == 1


async def test_reports_apply_in_as_of_order_whatever_order_they_came_in(
    handlers: IntakeHandlers, db: Database
) -> None:
    first = datetime(2026, 11, 28, 9, tzinfo=UTC)
    newer = report_as_of("L-1", first + timedelta(days=1), "900.00")
    older = report_as_of("L-1", first, "1250.00")
    await report(handlers, db, newer, older)
    assert [e.data["amount_overdue"]["amount"] for e in db.outbox] == ["1250.00", "900.00"]
    assert str(db.loans[(LENDER, "L-1")].amount_overdue) == "900.00"


async def test_a_closed_loan_refuses_its_report_and_the_batch_goes_on(
    handlers: IntakeHandlers, db: Database
) -> None:
    await report(handlers, db, overdue_report("L-1"))
    async with FakeUnitOfWork(db) as uow:
        await handlers.close_loan(uow, LENDER, CloseLoan("L-1", ClosureReason.SETTLED))
        await uow.commit()
    later = report_as_of("L-1", datetime(2026, 11, 29, 9, tzinfo=UTC))
    refused, accepted = await report(handlers, db, later, overdue_report("L-2"))
    assert isinstance(refused, Refused)
    assert "closed" in refused.reason
    assert isinstance(accepted, Accepted)


async def test_a_payment_lowers_the_outstanding_and_its_repeat_changes_nothing(
    handlers: IntakeHandlers, db: Database
) -> None:
    await report(handlers, db, overdue_report("L-1"))
    for _ in range(2):
        async with FakeUnitOfWork(db) as uow:
            recorded = await handlers.record_payment(
                uow, LENDER, record_payment("L-1", "P-1", "250.00")
            )
            await uow.commit()
    assert recorded.accepted.duplicate
    assert str(recorded.loan.outstanding) == "1000.00"
    assert [e.type for e in db.outbox][-1] == "collections.loan.payment-received"
    assert len(db.outbox) == 2


async def test_a_payment_id_recorded_on_another_loan_conflicts(
    handlers: IntakeHandlers, db: Database
) -> None:
    await report(handlers, db, overdue_report("L-1"), overdue_report("L-2"))
    async with FakeUnitOfWork(db) as uow:
        await handlers.record_payment(uow, LENDER, record_payment("L-1", "P-1", "1.00"))
        await uow.commit()
    async with FakeUnitOfWork(db) as uow:
        with pytest.raises(LoanConflictError):
            await handlers.record_payment(uow, LENDER, record_payment("L-2", "P-1", "1.00"))


async def test_changes_to_an_unknown_loan_are_not_found(
    handlers: IntakeHandlers, db: Database
) -> None:
    async with FakeUnitOfWork(db) as uow:
        for command in (
            record_payment("L-404", "P-1", "1.00"),
            PlaceHold("L-404", HoldReason.DISPUTE),
            LiftHold("L-404", "H-1"),
            RecallPlacement("L-404", "lender_request"),
            CloseLoan("L-404", ClosureReason.CLOSED),
        ):
            with pytest.raises(LoanNotFoundError):
                await _handle(handlers, uow, command)
        with pytest.raises(LoanNotFoundError):
            await loan_record(uow, LENDER, "L-404")


async def _handle(handlers: IntakeHandlers, uow: FakeUnitOfWork, command: object) -> object:
    match command:
        case PlaceHold():
            return await handlers.place_hold(uow, LENDER, command)
        case LiftHold():
            return await handlers.lift_hold(uow, LENDER, command)
        case RecallPlacement():
            return await handlers.recall_placement(uow, LENDER, command)
        case CloseLoan():
            return await handlers.close_loan(uow, LENDER, command)
    return await handlers.record_payment(uow, LENDER, command)  # type: ignore[arg-type]


async def test_a_hold_is_placed_once_lifted_once_and_read_back(
    handlers: IntakeHandlers, db: Database
) -> None:
    await report(handlers, db, overdue_report("L-1"))
    async with FakeUnitOfWork(db) as uow:
        placed = await handlers.place_hold(uow, LENDER, PlaceHold("L-1", HoldReason.DISPUTE))
        again = await handlers.place_hold(
            uow, LENDER, PlaceHold("L-1", HoldReason.DISPUTE, placed.hold_id)
        )
        assert again.accepted == Accepted(placed.accepted.event_id, "L-1", duplicate=True)
        assert (await loan_record(uow, LENDER, "L-1")).on_hold
        lifted = await handlers.lift_hold(uow, LENDER, LiftHold("L-1", placed.hold_id))
        repeat = await handlers.lift_hold(uow, LENDER, LiftHold("L-1", placed.hold_id))
        assert repeat == Accepted(lifted.event_id, "L-1", duplicate=True)
        record = await loan_record(uow, LENDER, "L-1")
        await uow.commit()
    assert not record.on_hold
    assert [h.event_type for h in record.history][-2:] == [
        "collections.loan.hold-placed",
        "collections.loan.hold-lifted",
    ]


async def test_every_recall_counts_and_a_closure_happens_once(
    handlers: IntakeHandlers, db: Database
) -> None:
    await report(handlers, db, overdue_report("L-1"))
    async with FakeUnitOfWork(db) as uow:
        recalls = [
            await handlers.recall_placement(uow, LENDER, RecallPlacement("L-1", "lender_request"))
            for _ in range(2)
        ]
        closure = CloseLoan("L-1", ClosureReason.WRITTEN_OFF)
        closed = await handlers.close_loan(uow, LENDER, closure)
        again = await handlers.close_loan(uow, LENDER, closure)
        await uow.commit()
    assert recalls[0].event_id != recalls[1].event_id
    assert again == Accepted(closed.event_id, "L-1", duplicate=True)
    assert db.loans[(LENDER, "L-1")].status is LoanStatus.CLOSED


async def test_preferences_are_versioned_and_published_under_the_pseudonym(
    handlers: IntakeHandlers, db: Database
) -> None:
    async with FakeUnitOfWork(db) as uow:
        first = await handlers.update_contact_preferences(
            uow, LENDER, UpdateContactPreferences("B-1")
        )
        second = await handlers.update_contact_preferences(
            uow, LENDER, UpdateContactPreferences("B-1")
        )
        await uow.commit()
    assert (first.version, second.version) == (1, 2)
    assert db.outbox[-1].subject.startswith("bref_")
    assert "B-1" not in db.outbox[-1].subject


async def test_nothing_is_kept_or_published_unless_committed(
    handlers: IntakeHandlers, db: Database
) -> None:
    async with FakeUnitOfWork(db) as uow:
        await handlers.report_overdue_loans(uow, LENDER, ReportOverdueLoans((overdue_report(),)))
    assert db.loans == {}
    assert db.outbox == []
