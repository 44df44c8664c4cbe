"""The legal stage on fakes: a granted escalation starts it, only NEXT_STAGES moves are made
(each one event, in order), repeats change nothing, an agency moves it only where the policy
allows, a threat in the note is refused, and the stage stops agencies' contact and placement."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.agency_gateway.application.commitments import CommitmentHandlers
from services.agency_gateway.application.errors import (
    InvalidReportError,
    NoLegalStageError,
    StageMoveError,
    StageReportForbiddenError,
)
from services.agency_gateway.application.legal import LegalStageHandlers, StageMove
from services.agency_gateway.domain.cases import CaseFacts, exclusion
from services.agency_gateway.domain.contact_check import LEGAL_STAGE, banned_phrases
from services.agency_gateway.domain.policy import EscalationPolicy, PlacementPolicy, Variant
from shared.events.catalog import LEGAL_STAGE_CHANGED
from shared.events.legal import LegalStage
from shared.vocabulary import Channel
from tests.unit.agency_gateway.fakes import Database, FakeClock, FakeNotes, FakeUnitOfWork
from tests.unit.agency_gateway.test_assignment_handlers import (
    ASSIGNMENT,
    LENDER,
    LOAN,
    NORTH,
    PACKS,
)
from tests.unit.agency_gateway.test_assignment_handlers import world as handoff_world

POLICY = PlacementPolicy(version="test-1")
AGENCY_REPORTS = PlacementPolicy(
    version="test-2", escalation=EscalationPolicy(agency_may_report_stage=True)
)
DEMAND, FILED = LegalStage.DEMAND_SENT, LegalStage.FILED


def legal(db: Database, clock: FakeClock, policy: PlacementPolicy = POLICY) -> LegalStageHandlers:
    return LegalStageHandlers(
        lambda: FakeUnitOfWork(db), policy, FakeNotes(), banned_phrases(PACKS.values()), clock
    )


async def granted(policy: PlacementPolicy = POLICY) -> tuple[Database, FakeClock]:
    """A loan whose escalation the lender approved and was granted."""
    db, _handoff, clock = handoff_world(True)
    db.assignments[ASSIGNMENT]["notice_sent_at"] = clock.now - timedelta(days=31)
    commitments = CommitmentHandlers(lambda: FakeUnitOfWork(db), policy, clock=clock)
    decision = await commitments.escalate_by_lender(LENDER, LOAN, approve=True)
    assert decision.granted
    return db, clock


def stages(db: Database) -> list[tuple[str, str | None]]:
    return [(e.data["stage"], e.data["previous"]) for e in db.events(LEGAL_STAGE_CHANGED.name)]


async def test_a_granted_escalation_starts_the_stage_in_its_unit_of_work() -> None:
    db, _clock = await granted()
    assert stages(db) == [("granted", None)]
    [event] = db.events(LEGAL_STAGE_CHANGED.name)
    assert event.data["escalation_id"] == db.escalations[0]["escalation_id"]
    assert event.data["reported_by"] == "lender"
    assert event.subject == LOAN
    assert event.tenantid == LENDER
    assert db.cases[(LENDER, LOAN)]["legal_stage"] == "granted"


async def test_a_refused_escalation_starts_no_stage() -> None:
    db, _handoff, clock = handoff_world(False)
    commitments = CommitmentHandlers(lambda: FakeUnitOfWork(db), POLICY, clock=clock)
    assert not (await commitments.escalate_by_agency(NORTH, ASSIGNMENT)).granted
    assert stages(db) == []
    with pytest.raises(NoLegalStageError):
        await legal(db, clock).move_by_lender(LENDER, LOAN, StageMove(DEMAND), None)


async def test_the_demand_carries_amount_deadline_and_agency() -> None:
    db, clock = await granted()
    view = await legal(db, clock).move_by_lender(
        LENDER, LOAN, StageMove(DEMAND, "demand letter posted", 20), None
    )
    assert view.stage is DEMAND
    assert [h["stage"] for h in view.history] == ["granted", "demand_sent"]
    event = db.events(LEGAL_STAGE_CHANGED.name)[-1]
    demand = event.data["demand"]
    assert Decimal(demand["amount"]["amount"]) == Decimal(
        db.cases[(LENDER, LOAN)]["amount_overdue"]
    )
    assert date.fromisoformat(demand["respond_by"]) == clock.now.date() + timedelta(days=20)
    assert demand["agency_id"] == NORTH
    assert demand["agency_name"] == db.agencies[NORTH]["name"]
    assert db.legal[-1]["note_sealed"] == {"kid": "fake", "ct": "demand letter posted"}
    assert "demand letter posted" not in str(event.data)  # the note never leaves sealed


async def test_the_deadline_defaults_to_the_policy() -> None:
    db, clock = await granted()
    await legal(db, clock).move_by_lender(LENDER, LOAN, StageMove(DEMAND), None)
    demand = db.events(LEGAL_STAGE_CHANGED.name)[-1].data["demand"]
    assert date.fromisoformat(demand["respond_by"]) == clock.now.date() + timedelta(days=15)


async def test_only_next_stages_moves_are_made() -> None:
    db, clock = await granted()
    handlers = legal(db, clock)
    with pytest.raises(StageMoveError, match=r"at granted.*filed.*allowed: demand_sent, settled"):
        await handlers.move_by_lender(LENDER, LOAN, StageMove(FILED), None)
    await handlers.move_by_lender(LENDER, LOAN, StageMove(DEMAND), None)
    await handlers.move_by_lender(LENDER, LOAN, StageMove(FILED), None)
    await handlers.move_by_lender(LENDER, LOAN, StageMove(LegalStage.JUDGMENT), None)
    with pytest.raises(StageMoveError, match="none \\(the stage ended\\)"):
        await handlers.move_by_lender(LENDER, LOAN, StageMove(LegalStage.SETTLED), None)
    assert stages(db) == [
        ("granted", None),
        ("demand_sent", "granted"),
        ("filed", "demand_sent"),
        ("judgment", "filed"),
    ]


async def test_a_repeated_move_changes_nothing() -> None:
    db, clock = await granted()
    handlers = legal(db, clock)
    first = await handlers.move_by_lender(LENDER, LOAN, StageMove(DEMAND), "k-1")
    again = await handlers.move_by_lender(LENDER, LOAN, StageMove(DEMAND), None)
    keyed = await handlers.move_by_lender(LENDER, LOAN, StageMove(DEMAND), "k-1")
    assert first == again == keyed
    await handlers.move_by_lender(LENDER, LOAN, StageMove(FILED), "k-2")
    replay = await handlers.move_by_lender(LENDER, LOAN, StageMove(FILED), "k-2")
    assert replay.stage is FILED
    assert len(db.legal) == 3
    assert len(stages(db)) == 3


async def test_an_agency_moves_the_stage_only_where_the_policy_allows() -> None:
    db, clock = await granted()
    with pytest.raises(StageReportForbiddenError, match="agency_may_report_stage"):
        await legal(db, clock).move_by_agency(NORTH, ASSIGNMENT, StageMove(DEMAND), None)
    assert len(stages(db)) == 1
    view = await legal(db, clock, AGENCY_REPORTS).move_by_agency(
        NORTH, ASSIGNMENT, StageMove(DEMAND), None
    )
    assert view.history[-1]["reported_by"] == "agency"
    assert db.events(LEGAL_STAGE_CHANGED.name)[-1].data["reported_by"] == "agency"


async def test_a_threat_in_the_note_is_refused_naming_the_note() -> None:
    db, clock = await granted()
    with pytest.raises(InvalidReportError) as refused:
        await legal(db, clock).move_by_lender(
            LENDER, LOAN, StageMove(DEMAND, "pay or you go to j a i l"), None
        )
    assert [p.field for p in refused.value.problems] == ["note"]
    assert "CN-06" in refused.value.problems[0].message
    with pytest.raises(InvalidReportError) as refused:
        await legal(db, clock).move_by_lender(LENDER, LOAN, StageMove(FILED, None, 10), None)
    assert [p.field for p in refused.value.problems] == ["respond_by_days"]
    assert len(stages(db)) == 1
    assert db.cases[(LENDER, LOAN)]["legal_stage"] == "granted"


async def test_the_contact_check_refuses_an_agency_from_filing() -> None:
    db, clock = await granted()
    _db, checks, _clock = handoff_world(True)
    checks = type(checks)(
        lambda: FakeUnitOfWork(db),
        contacts=checks.contacts,
        texts=checks.texts,
        packs=PACKS,
        banned=checks.banned,
        clock=clock,
    )
    handlers = legal(db, clock)
    await handlers.move_by_lender(LENDER, LOAN, StageMove(DEMAND), None)
    answer = await checks.contact_check(NORTH, ASSIGNMENT, Channel.SMS, clock.now)
    assert LEGAL_STAGE not in answer.rules  # agencies still speak after the demand
    await handlers.move_by_lender(LENDER, LOAN, StageMove(FILED), None)
    answer = await checks.contact_check(NORTH, ASSIGNMENT, Channel.SMS, clock.now)
    assert not answer.allowed
    assert answer.rules == (LEGAL_STAGE,)
    assert "filed" in answer.explanation


def test_placement_waits_while_a_legal_stage_is_under_way() -> None:
    facts = CaseFacts(LENDER, LOAN, days_past_due=90, amount=Decimal("1000"))
    assert exclusion(facts, POLICY, Variant.CHAMPION) is None
    for stage in ("granted", "demand_sent", "filed", "judgment", "settled"):
        held = CaseFacts(LENDER, LOAN, 90, Decimal("1000"), legal_stage=stage)
        assert exclusion(held, POLICY, Variant.CHAMPION) == f"legal_stage:{stage}"
    withdrawn = CaseFacts(LENDER, LOAN, 90, Decimal("1000"), legal_stage="withdrawn")
    assert exclusion(withdrawn, POLICY, Variant.CHAMPION) is None


async def test_a_withdrawal_returns_the_loan_to_placement() -> None:
    db, clock = await granted()
    await legal(db, clock).move_by_lender(LENDER, LOAN, StageMove(LegalStage.WITHDRAWN), None)
    case = db.cases[(LENDER, LOAN)]
    assert case["legal_stage"] == "withdrawn"
    assert case["placement_due_at"] == clock.now


async def test_a_second_grant_starts_no_second_stage_until_the_first_is_withdrawn() -> None:
    db, clock = await granted()
    commitments = CommitmentHandlers(lambda: FakeUnitOfWork(db), POLICY, clock=clock)
    assert (await commitments.escalate_by_lender(LENDER, LOAN, approve=True)).granted
    assert stages(db) == [("granted", None)]
    await legal(db, clock).move_by_lender(LENDER, LOAN, StageMove(LegalStage.WITHDRAWN), None)
    again = await commitments.escalate_by_lender(LENDER, LOAN, approve=True)
    assert stages(db)[-1] == ("granted", None)
    assert db.events(LEGAL_STAGE_CHANGED.name)[-1].data["escalation_id"] == again.escalation_id
    assert [r["seq"] for r in db.legal] == [1, 2, 3]
