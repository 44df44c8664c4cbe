"""The legal stage of a loan: started by a granted escalation, moved by the lender (and by the
agency where the lender's policy allows it), each change recorded with its note sealed and
published (``LEGAL_STAGE_CHANGED``) in the unit of work that makes it.

Only the moves of ``NEXT_STAGES`` are made. A repeated move (the same ``Idempotency-Key``, or
the stage the loan is at already) changes nothing and answers the stage as it is.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import uuid4

from services.agency_gateway.application.assignments import own_active
from services.agency_gateway.application.errors import (
    FieldProblem,
    InvalidReportError,
    LoanNotFoundError,
    NoLegalStageError,
    StageMoveError,
    StageReportForbiddenError,
)
from services.agency_gateway.application.events import loan_event
from services.agency_gateway.application.ports import (
    Clock,
    NoteSealing,
    Row,
    UnitOfWork,
    utc_now,
)
from services.agency_gateway.domain.policy import PlacementPolicy
from shared.contact_rules.wording import banned_in
from shared.events.catalog import LEGAL_STAGE_CHANGED
from shared.events.legal import NEXT_STAGES, DemandTerms, LegalStage, LegalStageChanged
from shared.events.money import Money

LENDER, AGENCY = "lender", "agency"


@dataclass(frozen=True)
class StageMove:
    stage: LegalStage
    note: str | None = None
    respond_by_days: int | None = None  # demand_sent only


@dataclass(frozen=True)
class LegalStageView:
    stage: LegalStage
    escalation_id: str
    history: list[Row]  # each change: stage, at, reported_by (oldest first)


def legal_view(changes: list[Row]) -> LegalStageView | None:
    """The loan's legal stage from its changes (in order); None if it has none."""
    if not changes:
        return None
    last = changes[-1]
    history = [{k: c[k] for k in ("stage", "at", "reported_by")} for c in changes]
    return LegalStageView(LegalStage(last["stage"]), last["escalation_id"], history)


async def start_legal_stage(
    uow: UnitOfWork, row: Row, case: Row, escalation_id: str, reported_by: str, now: datetime
) -> None:
    """A granted escalation starts the loan's legal stage (``granted``), unless one is under
    way: a loan with none, or whose legal route was withdrawn, starts afresh."""
    current = case.get("legal_stage")
    if current is not None and current != LegalStage.WITHDRAWN:
        return
    seq = len(await uow.legal.of_loan(case["lender_id"], case["loan_id"])) + 1
    await _change(
        uow,
        row,
        case,
        escalation_id,
        LegalStage.GRANTED,
        None,
        reported_by,
        now,
        extra={"seq": seq},
    )


async def _change(
    uow: UnitOfWork,
    row: Row,
    case: Row,
    escalation_id: str,
    stage: LegalStage,
    previous: LegalStage | None,
    reported_by: str,
    now: datetime,
    *,
    extra: Row,
    demand: DemandTerms | None = None,
) -> Row:
    key = (case["lender_id"], case["loan_id"])
    change = {
        "change_id": f"LS-{uuid4().hex}",
        "lender_id": key[0],
        "loan_id": key[1],
        "escalation_id": escalation_id,
        "assignment_id": row.get("assignment_id"),
        "agency_id": row.get("agency_id"),
        "stage": stage.value,
        "previous": None if previous is None else previous.value,
        "reported_by": reported_by,
        "at": now,
        "respond_by": None if demand is None else demand.respond_by,
        "note_sealed": None,
        "idempotency_key": None,
    } | extra
    await uow.legal.add(change)
    values: Row = {"legal_stage": stage.value, "updated_at": now}
    if stage is LegalStage.WITHDRAWN:
        values["placement_due_at"] = now  # back to ordinary collection: decided afresh
    await uow.cases.change(key, **values)
    case["legal_stage"] = stage.value
    data = LegalStageChanged(
        escalation_id=escalation_id,
        assignment_id=row.get("assignment_id"),
        loan_id=key[1],
        borrower_ref=case["borrower_ref"],
        agency_id=row.get("agency_id"),
        stage=stage,
        previous=previous,
        reported_by=reported_by,
        changed_at=now,
        demand=demand,
    )
    uow.publish(loan_event(case, LEGAL_STAGE_CHANGED, data))
    return change


@dataclass(frozen=True)
class LegalStageHandlers:
    unit_of_work: Callable[[], UnitOfWork]
    policy: PlacementPolicy
    notes: NoteSealing
    banned: tuple[str, ...]
    clock: Clock = field(default=utc_now)

    async def move_by_lender(
        self, lender_id: str, loan_id: str, move: StageMove, idempotency_key: str | None
    ) -> LegalStageView:
        self._screen(move)
        async with self.unit_of_work() as uow:
            case = (await uow.cases.for_update([(lender_id, loan_id)])).get((lender_id, loan_id))
            if case is None:
                raise LoanNotFoundError(f"No case for loan {loan_id!r} is open.")
            view = await self._move(uow, dict(case), move, LENDER, idempotency_key)
            await uow.commit()
        return view

    async def move_by_agency(
        self, agency_id: str, assignment_id: str, move: StageMove, idempotency_key: str | None
    ) -> LegalStageView:
        async with self.unit_of_work() as uow:
            row, _case = await own_active(uow, agency_id, assignment_id)
            if not self.policy.escalation.agency_may_report_stage:
                raise StageReportForbiddenError(
                    "The lender's policy (escalation.agency_may_report_stage) does not let "
                    "an agency report the legal stage; the lender reports it."
                )
            self._screen(move)
            key = (row["lender_id"], row["loan_id"])
            case = dict((await uow.cases.for_update([key]))[key])  # one move at a time
            view = await self._move(uow, case, move, AGENCY, idempotency_key)
            await uow.commit()
        return view

    async def _move(
        self, uow: UnitOfWork, case: Row, move: StageMove, by: str, key: str | None
    ) -> LegalStageView:
        lender_id, loan_id = case["lender_id"], case["loan_id"]
        changes = await uow.legal.of_loan(lender_id, loan_id)
        view = legal_view(changes)
        if view is None:
            raise NoLegalStageError(
                f"Loan {loan_id!r} has no legal stage: no escalation of it was granted."
            )
        if key is not None and any(c["idempotency_key"] == key for c in changes):
            return view
        if view.stage is move.stage:
            return view  # the move was made already
        allowed = NEXT_STAGES[view.stage]
        if move.stage not in allowed:
            names = ", ".join(sorted(s.value for s in allowed)) or "none (the stage ended)"
            raise StageMoveError(
                f"Loan {loan_id!r} is at {view.stage.value}: it cannot move to "
                f"{move.stage.value}; allowed: {names}."
            )
        now = self.clock()
        active = (await uow.assignments.active([(lender_id, loan_id)])).get((lender_id, loan_id))
        row: Row = active or {"assignment_id": changes[-1]["assignment_id"], "agency_id": None}
        demand = None
        if move.stage is LegalStage.DEMAND_SENT:
            demand = await self._demand(uow, case, active, move, now)
        change_id = f"LS-{uuid4().hex}"
        identity = {"lender_id": lender_id, "loan_id": loan_id, "change_id": change_id}
        extra: Row = {"change_id": change_id, "idempotency_key": key, "seq": len(changes) + 1}
        if move.note is not None:
            extra["note_sealed"] = self.notes.seal(move.note, identity)
        change = await _change(
            uow,
            row,
            case,
            view.escalation_id,
            move.stage,
            view.stage,
            by,
            now,
            extra=extra,
            demand=demand,
        )
        found = legal_view([*changes, change])
        assert found is not None
        return found

    async def _demand(
        self, uow: UnitOfWork, case: Row, active: Row | None, move: StageMove, now: datetime
    ) -> DemandTerms:
        days = move.respond_by_days or self.policy.escalation.demand_respond_days
        agency = None if active is None else await uow.agencies.get(active["agency_id"])
        return DemandTerms(
            amount=Money.in_minor_units(case["amount_overdue"], case["currency"]),
            respond_by=now.date() + timedelta(days=days),
            agency_id=None if active is None else active["agency_id"],
            agency_name=None if agency is None else agency["name"],
            agency_phone=None if agency is None else agency["phone"],
        )

    def _screen(self, move: StageMove) -> None:
        """Refuse a threat in the note (CN-06's banned phrases) and a deadline on a move that
        sends no demand."""
        problems = []
        if move.note is not None and (found := banned_in(move.note, self.banned)):
            problems.append(
                FieldProblem("note", f"contains the banned phrase {found[0]!r} (CN-06)")
            )
        if move.respond_by_days is not None and move.stage is not LegalStage.DEMAND_SENT:
            problems.append(FieldProblem("respond_by_days", "only a demand_sent move has one"))
        if problems:
            detail = "; ".join(p.message for p in problems)
            raise InvalidReportError("Invalid legal stage move", detail, problems)
