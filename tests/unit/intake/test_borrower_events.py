"""What intake's consumer makes of other services' events, on fakes: the agency holding a
loan, agencies' disputes, notices sent, and answers to data requests (checked, kept sealed,
a request ready once every service answered); a redelivery changes nothing."""

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from services.intake.application.borrower_events import BorrowerEvents
from services.intake.application.borrower_side import BorrowerSide
from services.intake.application.data_requests import opened_answers
from services.intake.application.handlers import IntakeHandlers, loan_record
from services.intake.application.sealing import Sealing
from services.intake.consumer import IntakeConsumer
from services.intake.domain.commands import LiftHold, ResolveDispute
from shared.borrower_links import BorrowerLinks, LinkClaims
from shared.crypto import KeyRing
from shared.events.assignments import AssignmentEnded, AssignmentPlaced, DisputeRaised
from shared.events.borrowers import (
    DATA_HOLDERS,
    DataAnswer,
    DataRequestAnswered,
    DataRequestKind,
    DisputeOutcome,
    PersonalDataItem,
    seal_answer,
)
from shared.events.catalog import (
    AGENCY_NOTICE_SENT,
    ASSIGNMENT_PLACED,
    DATA_REQUEST_ANSWERED,
    DISPUTE_RAISED,
    NOTIFICATION_EVENTS,
)
from shared.events.notifications import NotificationChanged, NotificationKind, NotificationStatus
from shared.vocabulary import Channel
from tests.support.factories import overdue_report
from tests.unit.intake.conftest import LENDER, NOW, reported
from tests.unit.intake.fakes import Database, FakeUnitOfWork

LOAN = "L-1"


async def apply(database: Database, handle: Any, *events: tuple[str, Any]) -> None:
    async with FakeUnitOfWork(database) as uow:
        await handle(uow, list(events))
        await uow.commit()


def placed(assignment_id: str = "A-1", at_hours: int = 0) -> AssignmentPlaced:
    return AssignmentPlaced(
        assignment_id=assignment_id,
        loan_id=LOAN,
        borrower_ref="bref_x",
        agency_id=f"agency-{assignment_id}",
        agency_name="Nine Recoveries",
        agency_phone="+861010",
        placed_at=NOW + timedelta(hours=at_hours),
        policy_version="p1",
        reason="test",
    )


def ended(assignment_id: str = "A-1") -> AssignmentEnded:
    return AssignmentEnded(
        assignment_id=assignment_id,
        loan_id=LOAN,
        borrower_ref="bref_x",
        agency_id=f"agency-{assignment_id}",
        ended_at=NOW + timedelta(hours=2),
        reason="returned",
    )


def notice(notification_id: Any, status: NotificationStatus) -> NotificationChanged:
    return NotificationChanged(
        notification_id=notification_id,
        loan_id=LOAN,
        borrower_ref="bref_x",
        kind=NotificationKind.AGENCY_NOTICE,
        step=None,
        channel=Channel.SMS,
        template="agency_notice",
        locale="zh-CN",
        policy_id="p",
        policy_version="1",
        pack_version=None,
        status=status,
        at=NOW,
        due_at=NOW,
    )


async def test_the_agency_placed_last_holds_the_loan_until_its_placement_ends(
    events: BorrowerEvents, database: Database
) -> None:
    await apply(database, events.placed, (LENDER, placed("A-2", 1)), (LENDER, placed("A-1", 0)))
    assert database.holders[(LENDER, LOAN)].assignment_id == "A-2"
    await apply(database, events.ended, (LENDER, ended("A-1")))  # an older placement's end
    assert database.holders[(LENDER, LOAN)].assignment_id == "A-2"
    await apply(database, events.ended, (LENDER, ended("A-2")))
    assert (LENDER, LOAN) not in database.holders


async def test_an_agency_dispute_holds_the_loan_and_the_lender_resolves_it(
    events: BorrowerEvents, intake: IntakeHandlers, database: Database
) -> None:
    await reported(intake, database, overdue_report(LOAN))
    raised = DisputeRaised(
        dispute_id="AD-1",
        assignment_id="A-1",
        loan_id=LOAN,
        borrower_ref="bref_x",
        agency_id="agency-1",
        reason="borrower says it was paid",
        raised_at=NOW,
    )
    for _ in range(2):  # a redelivery changes nothing
        await apply(database, events.agency_disputes, (LENDER, raised))
    async with FakeUnitOfWork(database) as uow:
        record = await loan_record(uow, LENDER, LOAN)
    assert record.on_hold
    (dispute,) = record.disputes
    assert (dispute.source.value, dispute.reason.value, dispute.hold_id) == (
        "agency",
        "other",
        "agency-dispute:AD-1",
    )
    assert "paid" not in str(database.disputes[(LENDER, "AD-1")][1])
    async with FakeUnitOfWork(database) as uow:
        await intake.resolve_dispute(
            uow, LENDER, ResolveDispute(LOAN, "AD-1", DisputeOutcome.REJECTED)
        )
        await uow.commit()
    resolved, lifted = database.outbox[-2:]
    assert resolved.data["source"] == "agency"
    assert (lifted.type, lifted.data["hold_id"]) == (
        "collections.loan.hold-lifted",
        "agency-dispute:AD-1",
    )
    async with FakeUnitOfWork(database) as uow:
        assert not (await loan_record(uow, LENDER, LOAN)).on_hold


async def test_the_lender_may_lift_an_agency_dispute_hold_by_its_id_too(
    events: BorrowerEvents, intake: IntakeHandlers, database: Database
) -> None:
    await reported(intake, database, overdue_report(LOAN))
    raised = DisputeRaised(
        dispute_id="AD-2",
        assignment_id="A-1",
        loan_id=LOAN,
        borrower_ref="bref_x",
        agency_id="agency-1",
        reason="other",
        raised_at=NOW,
    )
    await apply(database, events.agency_disputes, (LENDER, raised))
    async with FakeUnitOfWork(database) as uow:
        await intake.lift_hold(uow, LENDER, LiftHold(LOAN, "agency-dispute:AD-2"))
        await uow.commit()
    assert database.outbox[-1].data["hold_id"] == "agency-dispute:AD-2"


async def test_notices_are_kept_once_without_content(
    events: BorrowerEvents, database: Database
) -> None:
    notification_id = uuid4()
    await apply(
        database,
        events.notices,
        (LENDER, notice(notification_id, NotificationStatus.SENT)),
        (LENDER, notice(notification_id, NotificationStatus.DELIVERED)),
    )
    await apply(
        database, events.notices, (LENDER, notice(notification_id, NotificationStatus.SENT))
    )
    (kept,) = database.notices.values()
    assert (kept.channel, kept.kind, kept.at) == (Channel.SMS, "agency_notice", NOW)


@pytest.fixture
async def request_claims(
    intake: IntakeHandlers, database: Database, desk: BorrowerSide, links: BorrowerLinks
) -> LinkClaims:
    await reported(intake, database, overdue_report(LOAN))
    ref = database.loans[(LENDER, LOAN)].borrower_ref
    return await desk.open_link(links.mint(LENDER, LOAN, ref, now=NOW))


def answered(
    claims: LinkClaims, request_id: str, service: str, transit: KeyRing | None
) -> DataRequestAnswered:
    answer = DataAnswer(
        service=service,
        personal_data=[PersonalDataItem(category="phone", value="+8613800138000", purpose="x")],
    )
    sealed = seal_answer(transit, request_id, answer) if transit is not None else None
    return DataRequestAnswered(
        request_id=request_id,
        loan_id=LOAN,
        borrower_ref=claims.borrower_ref,
        kind=DataRequestKind.ACCESS,
        service=service,
        answered_at=NOW,
        sealed_answer=sealed,
        answer=None if sealed is not None else answer.model_copy(update={"personal_data": []}),
    )


async def test_a_request_is_ready_once_every_service_answered(
    request_claims: LinkClaims,
    desk: BorrowerSide,
    events: BorrowerEvents,
    database: Database,
    sealing: Sealing,
) -> None:
    request = await desk.request_data(request_claims, DataRequestKind.ACCESS)
    notifier, gateway, compliance = (
        answered(request_claims, request.request_id, "notifier", sealing.transit),
        answered(request_claims, request.request_id, "agency_gateway", sealing.transit),
        answered(request_claims, request.request_id, "compliance", None),
    )
    await apply(database, events.answers, (LENDER, notifier), (LENDER, gateway))
    await apply(database, events.answers, (LENDER, notifier))  # redelivered
    found = await desk.data_request(request_claims, request.request_id)
    assert found is not None
    assert found.status == "pending"
    stored = database.answers[(request.request_id, "notifier")]
    assert "+86" not in stored.sealed.ct
    assert stored.sealed.kid == sealing.storage.primary
    await apply(database, events.answers, (LENDER, compliance))
    found = await desk.data_request(request_claims, request.request_id)
    assert found is not None
    assert found.status == "ready"
    assert [a.service for a in found.answers] == ["intake", *DATA_HOLDERS]
    assert found.answers[1].personal_data[0].value == "+8613800138000"


async def test_a_deletion_erases_the_copies_of_earlier_access_answers_and_later_ones(
    request_claims: LinkClaims,
    desk: BorrowerSide,
    events: BorrowerEvents,
    database: Database,
    sealing: Sealing,
) -> None:
    access = await desk.request_data(request_claims, DataRequestKind.ACCESS)
    notifier = answered(request_claims, access.request_id, "notifier", sealing.transit)
    await apply(database, events.answers, (LENDER, notifier))
    deletion = await desk.request_data(request_claims, DataRequestKind.DELETION)
    late = answered(request_claims, access.request_id, "agency_gateway", sealing.transit)
    await apply(database, events.answers, (LENDER, late))
    found = await desk.data_request(request_claims, access.request_id)
    assert found is not None
    assert (found.status, found.answers) == ("erased", [])
    assert [key for key in database.answers if key[0] == access.request_id] == []
    stored = [a for (r, _), a in database.answers.items() if r == deletion.request_id]
    (own,) = opened_answers(sealing, stored)
    (copies,) = [item for item in own.retention if item.category == "access_answers"]
    assert copies.erased


async def test_answers_that_do_not_fit_their_request_are_left_out(
    request_claims: LinkClaims,
    desk: BorrowerSide,
    events: BorrowerEvents,
    database: Database,
    sealing: Sealing,
) -> None:
    request = await desk.request_data(request_claims, DataRequestKind.ACCESS)
    other = await desk.request_data(request_claims, DataRequestKind.ACCESS)
    good = answered(request_claims, request.request_id, "notifier", sealing.transit)
    moved = good.model_copy(update={"request_id": other.request_id})  # sealed for another
    foreign_keys = KeyRing.parse(KeyRing.generate_spec("x9"))
    await apply(
        database,
        events.answers,
        (LENDER, moved),
        ("lender-2", good),  # another lender's
        (LENDER, answered(request_claims, request.request_id, "stranger", sealing.transit)),
        (LENDER, answered(request_claims, request.request_id, "agency_gateway", foreign_keys)),
        (LENDER, answered(request_claims, "R-unknown", "notifier", sealing.transit)),
    )
    assert [key for key in database.answers if key[1] != "intake"] == []


def test_the_consumer_handles_what_intake_needs() -> None:
    handlers = IntakeConsumer(BorrowerEvents.__new__(BorrowerEvents)).handlers()
    for event_type in (
        ASSIGNMENT_PLACED,
        DISPUTE_RAISED,
        NOTIFICATION_EVENTS[NotificationStatus.SENT],
        NOTIFICATION_EVENTS[NotificationStatus.DELIVERED],
        AGENCY_NOTICE_SENT,
        DATA_REQUEST_ANSWERED,
    ):
        assert event_type.name in handlers.types
    assert NOTIFICATION_EVENTS[NotificationStatus.SCHEDULED].name not in handlers.types
