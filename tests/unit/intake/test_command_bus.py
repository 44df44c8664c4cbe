"""The command bus on an in-memory unit of work: concurrent commands share one transaction,
each keeps its own reply, keys replay, and a bad submission fails alone."""

import asyncio
from typing import Any

import pytest

from services.intake.application.command_bus import (
    ALREADY_A_BATCH,
    CommandBus,
    IdempotencyKeyReusedError,
    Reply,
    Submission,
)
from services.intake.application.handlers import Accepted, IntakeHandlers, PaymentRecorded
from services.intake.application.sealing import Sealing
from services.intake.domain.commands import Command, ReportOverdueLoans
from services.intake.domain.loan import LoanNotFoundError
from shared.crypto import KeyRing, Pseudonymizer
from tests.support.factories import overdue_report, record_payment
from tests.unit.intake.fakes import Database, FakeUnitOfWork

LENDER = "lender-1"


def present(result: Any) -> Reply:
    """Replies the way the API does, by the shape of the result."""
    if isinstance(result, PaymentRecorded):
        return Reply(202, {"event_id": str(result.accepted.event_id)})
    (outcome,) = result
    if outcome.loan_id == "poison":
        raise ValueError("cannot be encoded")
    assert isinstance(outcome, Accepted)
    return Reply(200 if outcome.duplicate else 202, {"event_id": str(outcome.event_id)})


class CountingUnitOfWork(FakeUnitOfWork):
    """Counts units of work begun; with ``away`` the database cannot be reached."""

    begun = 0
    away: Exception | None = None

    async def __aenter__(self) -> "CountingUnitOfWork":
        type(self).begun += 1
        if self.away is not None:
            raise self.away
        await super().__aenter__()
        return self


@pytest.fixture
def db() -> Database:
    return Database()


@pytest.fixture
def bus(db: Database) -> CommandBus:
    CountingUnitOfWork.begun, CountingUnitOfWork.away = 0, None
    sealing = Sealing(
        storage=KeyRing.parse(KeyRing.generate_spec("k1")),
        transit=KeyRing.parse(KeyRing.generate_spec("t1")),
        pseudonyms=Pseudonymizer(b"a pseudonym key of the tests"),
    )
    return CommandBus(lambda: CountingUnitOfWork(db), IntakeHandlers(sealing), linger=0)


def single(loan_id: str, key: str | None = None, fingerprint: bytes = b"") -> Submission:
    command = ReportOverdueLoans((overdue_report(loan_id),))
    return Submission(LENDER, command, present, key=key, fingerprint=fingerprint)


async def submit_together(bus: CommandBus, *submissions: Submission) -> list[object]:
    return await asyncio.gather(*(bus.submit(s) for s in submissions), return_exceptions=True)


async def test_concurrent_reports_share_one_transaction_and_keep_their_replies(
    bus: CommandBus, db: Database
) -> None:
    replies = await submit_together(bus, *(single(f"L-{n}") for n in range(5)))
    assert [getattr(r, "status", r) for r in replies] == [202] * 5
    assert db.commits == 1
    assert len(db.outbox) == 5


async def test_a_key_replays_its_reply_and_refuses_another_request(
    bus: CommandBus, db: Database
) -> None:
    first = await bus.submit(single("L-1", key="k-1", fingerprint=b"request-1"))
    again = await bus.submit(single("L-1", key="k-1", fingerprint=b"request-1"))
    assert (again.status, again.body, again.replayed) == (first.status, first.body, True)
    with pytest.raises(IdempotencyKeyReusedError):
        await bus.submit(single("L-2", key="k-1", fingerprint=b"request-2"))
    assert len(db.outbox) == 1


async def test_a_key_sent_twice_in_one_group_replays_the_first(bus: CommandBus) -> None:
    first, second = await submit_together(
        bus, single("L-1", "k-1", b"request"), single("L-1", "k-1", b"request")
    )
    assert isinstance(first, Reply)
    assert isinstance(second, Reply)
    assert (first.replayed, second.replayed, second.body) == (False, True, first.body)


async def test_a_refusal_fails_alone_leaves_no_trace_and_is_not_kept_under_its_key(
    bus: CommandBus, db: Database
) -> None:
    await bus.submit(single("L-1"))
    pay = Submission(LENDER, record_payment("L-1", "P-1", "5.00"), present, "k-pay", b"pay")
    unknown: Command = record_payment("L-404", "P-2", "5.00")
    lost = Submission(LENDER, unknown, present, "k-404", b"lost")
    paid, refused, reported = await submit_together(bus, pay, lost, single("L-2"))
    assert getattr(paid, "status", None) == 202
    assert isinstance(refused, LoanNotFoundError)
    assert getattr(reported, "status", None) == 202
    assert (LENDER, "k-404") not in db.replies
    assert (LENDER, "k-pay") in db.replies
    assert db.commits == 2  # the first report, then all three together


async def test_a_submission_that_breaks_the_group_fails_alone(
    bus: CommandBus, db: Database
) -> None:
    first, poisoned, last = await submit_together(
        bus, single("L-1"), single("poison"), single("L-2")
    )
    assert getattr(first, "status", None) == 202
    assert isinstance(poisoned, ValueError)
    assert getattr(last, "status", None) == 202
    assert sorted(e.subject for e in db.outbox) == ["L-1", "L-2"]


@pytest.mark.parametrize("error", [ConnectionRefusedError(), TimeoutError()])
async def test_a_database_away_fails_the_group_at_once(bus: CommandBus, error: Exception) -> None:
    CountingUnitOfWork.away = error
    results = await submit_together(bus, single("L-1"), single("L-2"), single("L-3"))
    assert all(result is error for result in results)
    assert CountingUnitOfWork.begun == 1


async def test_batches_go_in_units_of_work_of_their_own_and_single_reports_together(
    bus: CommandBus, db: Database
) -> None:
    def batch(prefix: str) -> Submission:
        reports = tuple(overdue_report(f"{prefix}-{n}") for n in range(ALREADY_A_BATCH))
        return Submission(LENDER, ReportOverdueLoans(reports), lambda _: Reply(200, {}))

    replies = await submit_together(bus, batch("A"), batch("B"), single("L-1"), single("L-2"))
    assert [getattr(r, "status", r) for r in replies] == [200, 200, 202, 202]
    assert db.commits == 3  # each batch alone, the two single reports together
    assert len(db.outbox) == 2 * ALREADY_A_BATCH + 2


class OverlapUnitOfWork(FakeUnitOfWork):
    """Yields to the event loop when begun, and counts units of work open at once."""

    open = 0
    most = 0

    async def __aenter__(self) -> "OverlapUnitOfWork":
        type(self).open += 1
        type(self).most = max(type(self).most, type(self).open)
        await asyncio.sleep(0.01)  # another batch would begin meanwhile, were it let in
        await super().__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        type(self).open -= 1
        await super().__aexit__(*exc_info)


async def test_batches_beyond_those_in_flight_wait_their_turn_and_all_succeed(
    db: Database,
) -> None:
    sealing = Sealing(
        storage=KeyRing.parse(KeyRing.generate_spec("k1")),
        transit=KeyRing.parse(KeyRing.generate_spec("t1")),
        pseudonyms=Pseudonymizer(b"a pseudonym key of the tests"),
    )
    OverlapUnitOfWork.open = OverlapUnitOfWork.most = 0
    bus = CommandBus(
        lambda: OverlapUnitOfWork(db), IntakeHandlers(sealing), linger=0, batches_in_flight=2
    )

    def batch(prefix: str) -> Submission:
        reports = tuple(overdue_report(f"{prefix}-{n}") for n in range(ALREADY_A_BATCH))
        return Submission(LENDER, ReportOverdueLoans(reports), lambda _: Reply(200, {}))

    replies = await submit_together(bus, *(batch(f"B{n}") for n in range(5)))
    assert [getattr(r, "status", r) for r in replies] == [200] * 5
    assert OverlapUnitOfWork.most == 2
