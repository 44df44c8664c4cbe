"""Resolving disputes (the borrower's and an agency's) and revoking links, on fakes: what each
outcome publishes, in which order, and what is refused without writing anything."""

from decimal import Decimal

import pytest

from services.intake.application.borrower_desk import LinkRefusedError
from services.intake.application.borrower_side import BorrowerSide
from services.intake.application.command_bus import CommandBus, Reply, Submission
from services.intake.application.handlers import IntakeHandlers, loan_record
from services.intake.domain.commands import CloseLoan, LiftHold, ResolveDispute, RevokeBorrowerLinks
from services.intake.domain.disputes import DisputeNotFoundError, DisputeSettledError
from services.intake.domain.loan import LoanConflictError, LoanNotFoundError, LoanStatus
from shared.borrower_links import BorrowerLinks, LinkClaims
from shared.events.borrowers import DisputeOutcome, DisputeReason
from shared.events.models import ClosureReason
from shared.events.money import Money
from tests.support.factories import overdue_report
from tests.unit.intake.conftest import LENDER, NOW, Clock, reported
from tests.unit.intake.fakes import Database, FakeUnitOfWork

LOAN = "L-1"
TYPES = "collections.loan."


async def borrower_dispute(
    intake: IntakeHandlers, database: Database, desk: BorrowerSide, links: BorrowerLinks
) -> str:
    await reported(intake, database, overdue_report(LOAN))
    claims = await desk.open_link(token(links, database))
    return (await desk.open_dispute(claims, DisputeReason.AMOUNT_WRONG, "I paid half")).dispute_id


def token(links: BorrowerLinks, database: Database, loan_id: str = LOAN) -> str:
    ref = database.loans[(LENDER, loan_id)].borrower_ref
    return links.mint(LENDER, loan_id, ref, now=NOW)


async def resolve(intake: IntakeHandlers, database: Database, command: ResolveDispute) -> object:
    async with FakeUnitOfWork(database) as uow:
        resolved = await intake.resolve_dispute(uow, LENDER, command)
        await uow.commit()
    return resolved


def published_since(database: Database, count: int) -> list[str]:
    return [e.type for e in database.outbox[count:]]


async def test_a_rejected_dispute_lifts_its_hold(
    intake: IntakeHandlers, database: Database, desk: BorrowerSide, links: BorrowerLinks
) -> None:
    dispute_id = await borrower_dispute(intake, database, desk, links)
    before = len(database.outbox)
    await resolve(intake, database, ResolveDispute(LOAN, dispute_id, DisputeOutcome.REJECTED, "no"))
    assert published_since(database, before) == [
        f"{TYPES}dispute-resolved",
        f"{TYPES}hold-lifted",
    ]
    resolved, lifted = database.outbox[before:]
    assert resolved.data["outcome"] == "rejected"
    assert resolved.data["source"] == "borrower"
    assert lifted.data["hold_id"] == f"dispute:{dispute_id}"
    async with FakeUnitOfWork(database) as uow:
        record = await loan_record(uow, LENDER, LOAN)
    assert not record.on_hold
    assert [(d.status, d.resolved_at) for d in record.disputes] == [("rejected", NOW)]
    _, _, note = database.disputes[(LENDER, dispute_id)]
    assert note is not None  # the lender's note is kept sealed


async def test_an_upheld_dispute_closes_the_loan(
    intake: IntakeHandlers, database: Database, desk: BorrowerSide, links: BorrowerLinks
) -> None:
    dispute_id = await borrower_dispute(intake, database, desk, links)
    before = len(database.outbox)
    await resolve(intake, database, ResolveDispute(LOAN, dispute_id, DisputeOutcome.UPHELD))
    assert published_since(database, before) == [f"{TYPES}dispute-resolved", f"{TYPES}closed"]
    assert database.outbox[-1].data["reason"] == ClosureReason.DISPUTE_UPHELD.value
    assert database.loans[(LENDER, LOAN)].status is LoanStatus.CLOSED


async def test_an_upheld_dispute_with_a_corrected_amount_reports_it_anew_and_lifts_the_hold(
    intake: IntakeHandlers,
    database: Database,
    desk: BorrowerSide,
    links: BorrowerLinks,
) -> None:
    dispute_id = await borrower_dispute(intake, database, desk, links)
    before = len(database.outbox)
    corrected = Money(amount=Decimal("600.00"), currency="CNY")
    await resolve(
        intake,
        database,
        ResolveDispute(LOAN, dispute_id, DisputeOutcome.UPHELD, None, corrected),
    )
    assert published_since(database, before) == [
        f"{TYPES}dispute-resolved",
        f"{TYPES}overdue-reported",
        f"{TYPES}hold-lifted",
    ]
    resolution, report, _ = database.outbox[before:]
    assert resolution.data["corrected_amount"] == {"amount": "600.00", "currency": "CNY"}
    assert report.data["amount_overdue"] == {"amount": "600.00", "currency": "CNY"}
    assert report.data["as_of"] == NOW.isoformat().replace("+00:00", "Z")
    first_report = database.outbox[0].data["borrower"]
    assert report.data["borrower"]["ref"] == first_report["ref"]
    assert report.data["borrower"]["contact"]["ct"] != first_report["contact"]["ct"]  # resealed
    loan = database.loans[(LENDER, LOAN)]
    assert (loan.amount_overdue, loan.status) == (Decimal("600.00"), LoanStatus.DELINQUENT)


async def test_a_corrected_amount_in_another_currency_is_refused_and_nothing_is_written(
    intake: IntakeHandlers, database: Database, desk: BorrowerSide, links: BorrowerLinks
) -> None:
    dispute_id = await borrower_dispute(intake, database, desk, links)
    before = len(database.outbox)
    usd = Money(amount=Decimal("1.00"), currency="USD")
    with pytest.raises(LoanConflictError):
        await resolve(
            intake, database, ResolveDispute(LOAN, dispute_id, DisputeOutcome.UPHELD, None, usd)
        )
    assert len(database.outbox) == before
    assert database.disputes[(LENDER, dispute_id)][0].status == "open"


async def test_a_dispute_is_resolved_once(
    intake: IntakeHandlers, database: Database, desk: BorrowerSide, links: BorrowerLinks
) -> None:
    dispute_id = await borrower_dispute(intake, database, desk, links)
    command = ResolveDispute(LOAN, dispute_id, DisputeOutcome.REJECTED)
    await resolve(intake, database, command)
    with pytest.raises(DisputeSettledError):
        await resolve(intake, database, command)


async def test_an_unknown_dispute_or_another_lenders_loan_is_not_found(
    intake: IntakeHandlers, database: Database, desk: BorrowerSide, links: BorrowerLinks
) -> None:
    dispute_id = await borrower_dispute(intake, database, desk, links)
    with pytest.raises(DisputeNotFoundError):
        await resolve(intake, database, ResolveDispute(LOAN, "D-nope", DisputeOutcome.REJECTED))
    async with FakeUnitOfWork(database) as uow:
        with pytest.raises(LoanNotFoundError):
            await intake.resolve_dispute(
                uow, "lender-2", ResolveDispute(LOAN, dispute_id, DisputeOutcome.REJECTED)
            )


async def test_an_upheld_dispute_of_a_closed_loan_is_refused(
    intake: IntakeHandlers, database: Database, desk: BorrowerSide, links: BorrowerLinks
) -> None:
    dispute_id = await borrower_dispute(intake, database, desk, links)
    async with FakeUnitOfWork(database) as uow:
        await intake.close_loan(uow, LENDER, CloseLoan(LOAN, ClosureReason.SETTLED))
        await uow.commit()
    with pytest.raises(LoanConflictError):
        await resolve(intake, database, ResolveDispute(LOAN, dispute_id, DisputeOutcome.UPHELD))


async def test_a_hold_the_lender_lifted_already_is_not_lifted_twice(
    intake: IntakeHandlers, database: Database, desk: BorrowerSide, links: BorrowerLinks
) -> None:
    dispute_id = await borrower_dispute(intake, database, desk, links)
    async with FakeUnitOfWork(database) as uow:
        await intake.lift_hold(uow, LENDER, LiftHold(LOAN, f"dispute:{dispute_id}"))
        await uow.commit()
    before = len(database.outbox)
    await resolve(intake, database, ResolveDispute(LOAN, dispute_id, DisputeOutcome.REJECTED))
    assert published_since(database, before) == [f"{TYPES}dispute-resolved"]


async def test_revoking_links_refuses_the_links_issued_before(
    intake: IntakeHandlers,
    database: Database,
    desk: BorrowerSide,
    links: BorrowerLinks,
    clock: Clock,
) -> None:
    await reported(intake, database, overdue_report(LOAN))
    old = token(links, database)
    clock.now = NOW.replace(hour=13)
    async with FakeUnitOfWork(database) as uow:
        assert await intake.revoke_borrower_links(uow, LENDER, RevokeBorrowerLinks(LOAN)) == LOAN
        await uow.commit()
    with pytest.raises(LinkRefusedError) as refused:
        await desk.open_link(old)
    assert refused.value.gone
    ref = database.loans[(LENDER, LOAN)].borrower_ref
    newer = links.mint(LENDER, LOAN, ref, now=NOW.replace(hour=14))
    claims = await desk.open_link(newer)
    assert isinstance(claims, LinkClaims)


async def test_resolutions_replay_under_their_idempotency_key(
    intake: IntakeHandlers, database: Database, desk: BorrowerSide, links: BorrowerLinks
) -> None:
    dispute_id = await borrower_dispute(intake, database, desk, links)
    bus = CommandBus(lambda: FakeUnitOfWork(database), intake, linger=0)
    command = ResolveDispute(LOAN, dispute_id, DisputeOutcome.REJECTED)

    def present(_: object) -> Reply:
        return Reply(200, {"dispute_id": dispute_id})

    submission = Submission(LENDER, command, present, key="k-1", fingerprint=b"f")
    first = await bus.submit(submission)
    again = await bus.submit(submission)
    assert (first.replayed, again.replayed, again.body) == (False, True, first.body)
    revoke = Submission(LENDER, RevokeBorrowerLinks(LOAN), lambda _: Reply(204, {}))
    assert (await bus.submit(revoke)).status == 204
