"""Fixtures of the borrower side's unit tests: keys, a clock, the use cases on fakes."""

from datetime import UTC, datetime, timedelta

import pytest

from services.intake.application.borrower_events import BorrowerEvents
from services.intake.application.borrower_side import BorrowerSide
from services.intake.application.handlers import IntakeHandlers
from services.intake.application.sealing import Sealing
from services.intake.domain.commands import OverdueReport, ReportOverdueLoans
from shared.borrower_links import BorrowerLinks
from shared.crypto import KeyRing, Pseudonymizer
from tests.unit.intake.fakes import Database, FakeUnitOfWork

LENDER = "lender-1"
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sealing() -> Sealing:
    return Sealing(
        storage=KeyRing.parse(KeyRing.generate_spec("k1")),
        transit=KeyRing.parse(KeyRing.generate_spec("t1")),
        pseudonyms=Pseudonymizer(b"a pseudonym key of the tests"),
    )


@pytest.fixture
def links() -> BorrowerLinks:
    return BorrowerLinks(KeyRing.parse(KeyRing.generate_spec("l1")), timedelta(days=30))


@pytest.fixture
def intake(sealing: Sealing, clock: Clock) -> IntakeHandlers:
    return IntakeHandlers(sealing, clock=clock)


@pytest.fixture
def database() -> Database:
    return Database()


@pytest.fixture
def desk(
    database: Database,
    intake: IntakeHandlers,
    sealing: Sealing,
    links: BorrowerLinks,
    clock: Clock,
) -> BorrowerSide:
    return BorrowerSide(
        lambda: FakeUnitOfWork(database),
        intake,
        sealing,
        links,
        {LENDER: "Lender One Finance"},
        timedelta(days=15),
        clock=clock,
    )


@pytest.fixture
def events(sealing: Sealing, clock: Clock) -> BorrowerEvents:
    return BorrowerEvents(sealing, clock=clock)


async def reported(intake: IntakeHandlers, database: Database, *reports: OverdueReport) -> None:
    async with FakeUnitOfWork(database) as uow:
        await intake.report_overdue_loans(uow, LENDER, ReportOverdueLoans(tuple(reports)))
        await uow.commit()
