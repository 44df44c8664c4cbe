"""What the agency API does for an agency on an assignment, each use case in one unit of work
with its events: detail, acknowledge, return, activity, contact check."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from services.agency_gateway.application.ending import end_assignment
from services.agency_gateway.application.errors import (
    ActivityIdReusedError,
    AssignmentEndedError,
    AssignmentNotFoundError,
    FieldProblem,
    InvalidReportError,
)
from services.agency_gateway.application.events import loan_event
from services.agency_gateway.application.ports import (
    ActivityTexts,
    Clock,
    ContactSealing,
    Row,
    UnitOfWork,
    utc_now,
)
from services.agency_gateway.domain.contact_check import (
    CheckAnswer,
    PlacementRecord,
    contact_answer,
    debt_facts,
    intended_contact,
)
from shared.contact_rules import RulePack
from shared.contact_rules.ledger import POSSIBLE_OUTCOMES
from shared.contact_rules.sources import (
    ACTIVITY_OUTCOMES,
    activity_channel,
    activity_contact,
    debt_id,
)
from shared.contact_rules.wording import banned_in
from shared.events.assignments import (
    ActivityDirection,
    ActivityOutcome,
    ActivityType,
    AgencyActivityRecorded,
    AssignmentAcknowledged,
)
from shared.events.catalog import AGENCY_ACTIVITY_RECORDED, ASSIGNMENT_ACKNOWLEDGED
from shared.events.models import BorrowerContact
from shared.vocabulary import Channel, Jurisdiction


@dataclass(frozen=True)
class Activity:
    """What an agency reports it did (or noted); ``activity_id`` is its own."""

    activity_id: str
    type: ActivityType
    direction: ActivityDirection
    outcome: ActivityOutcome
    at: datetime
    recording_id: str | None = None
    staff_count: int | None = None
    text: str | None = None

    def details(self) -> dict[str, Any]:
        """Everything but the text, as stored (JSON) and compared on a repeat."""
        details: dict[str, Any] = _ACTIVITY.dump_python(self, mode="json", exclude={"text"})
        return details

    def fields(self) -> dict[str, Any]:
        """Everything but the text, as the published event carries it."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "text"}


_ACTIVITY = TypeAdapter(Activity)


NOTICE_PENDING = "borrower_notice_pending"
CONTACT_ERASED = "contact_erased"


@dataclass(frozen=True)
class AssignmentView:
    """An assignment with its case; the borrower's contact once they were told (CN-09), and
    while the gateway holds it (``withheld``: why not)."""

    assignment: Row
    case: Row
    borrower: BorrowerContact | None
    withheld: str | None = None


@dataclass(frozen=True)
class ActivityResult:
    activity_id: str
    assignment_id: str
    recorded_at: datetime
    replayed: bool


@dataclass(frozen=True)
class AssignmentHandlers:
    unit_of_work: Callable[[], UnitOfWork]
    contacts: ContactSealing
    texts: ActivityTexts
    packs: Mapping[Jurisdiction, RulePack]
    banned: tuple[str, ...]
    clock: Clock = field(default=utc_now)

    async def detail(self, agency_id: str, assignment_id: str) -> AssignmentView:
        async with self.unit_of_work() as uow:
            row, case = await own_active(uow, agency_id, assignment_id)
        if row["notice_sent_at"] is None:
            return AssignmentView(row, case, None, NOTICE_PENDING)
        if case["contact_sealed"] is None:
            return AssignmentView(row, case, None, CONTACT_ERASED)
        return AssignmentView(row, case, self.contacts.opened(case))

    async def acknowledge(self, agency_id: str, assignment_id: str) -> Row:
        async with self.unit_of_work() as uow:
            row, _case = await own_active(uow, agency_id, assignment_id, lock=True)
            if row["status"] == "placed":
                now = self.clock()
                changes = {"status": "acknowledged", "acknowledged_at": now, "updated_at": now}
                await uow.assignments.change(assignment_id, **changes)
                row.update(changes)
                data = AssignmentAcknowledged(
                    assignment_id=assignment_id,
                    loan_id=row["loan_id"],
                    agency_id=agency_id,
                    acknowledged_at=now,
                )
                uow.publish(loan_event(row, ASSIGNMENT_ACKNOWLEDGED, data))
            await uow.commit()
        return row

    async def give_back(self, agency_id: str, assignment_id: str, reason: str) -> Row:
        async with self.unit_of_work() as uow:
            row, case = await own_active(uow, agency_id, assignment_id, lock=True)
            event = await end_assignment(
                uow, row, case["borrower_ref"], "returned", reason, self.clock(), None
            )
            uow.publish(event)
            row = await uow.assignments.get(assignment_id) or row
            await uow.commit()
        return row

    async def activity(
        self, agency_id: str, assignment_id: str, activity: Activity
    ) -> ActivityResult:
        """Recorded with its text sealed; the event carries the text's keyed hash and the
        banned phrases found in it, never the text."""
        self._screen(activity)
        identity = {"agency_id": agency_id, "activity_id": activity.activity_id}
        text = activity.text
        async with self.unit_of_work() as uow:
            row, case = await own_active(uow, agency_id, assignment_id)
            stored = await uow.activities.add(
                identity
                | {
                    "assignment_id": assignment_id,
                    "body": activity.details(),
                    "text_sealed": None if text is None else self.texts.seal(text, identity),
                    "recorded_at": self.clock(),
                }
            )
            if stored is None:
                return self._replay(
                    await uow.activities.get(agency_id, activity.activity_id), activity
                )
            data = AgencyActivityRecorded(
                **activity.fields(),
                assignment_id=assignment_id,
                loan_id=row["loan_id"],
                borrower_ref=case["borrower_ref"],
                agency_id=agency_id,
                text_hmac=None if text is None else self.texts.digest(text),
                banned_phrases=[] if text is None else banned_in(text, self.banned),
            )
            made = activity_contact(row["lender_id"], data)
            if made is not None:
                await uow.ledger.record([(made, (row["lender_id"], row["loan_id"]))])
            uow.publish(loan_event(row, AGENCY_ACTIVITY_RECORDED, data))
            await uow.commit()
        return ActivityResult(activity.activity_id, assignment_id, stored["recorded_at"], False)

    async def contact_check(
        self, agency_id: str, assignment_id: str, channel: Channel, at: datetime
    ) -> CheckAnswer:
        async with self.unit_of_work() as uow:
            row, case = await own_active(uow, agency_id, assignment_id)
            lender_id, loan_id = row["lender_id"], row["loan_id"]
            borrower = (lender_id, case["borrower_ref"])
            history = await uow.assignments.of_loan(lender_id, loan_id)
            prefs = (await uow.preferences.of([borrower])).get(borrower)
            ledger = await uow.ledger.of_loan(lender_id, loan_id, case["borrower_ref"])
            replies = await uow.opt_outs.of(*borrower)
        facts = debt_facts(
            debt_id(lender_id, loan_id),
            case,
            prefs,
            [
                PlacementRecord(a["agency_id"], a["placed_at"], a["notice_sent_at"], a["ended_at"])
                for a in history
            ],
            replies,
        )
        intended = intended_contact(assignment_id, facts, agency_id, channel, at)
        pack = self.packs[facts.jurisdiction]
        notified = row["notice_sent_at"] is not None
        return contact_answer(intended, ledger, facts, pack, notified, case.get("legal_stage"))

    def _screen(self, activity: Activity) -> None:
        """Refuse what a report of its type lacks."""
        problems = []
        if activity.type is ActivityType.VISIT and (
            activity.recording_id is None or activity.staff_count is None
        ):
            problems.append(
                FieldProblem("recording_id", "a visit names its recording_id and staff_count")
            )
        if activity.type is ActivityType.NOTE:
            if activity.text is None:
                problems.append(FieldProblem("text", "a note has its text"))
            elif found := banned_in(activity.text, self.banned):
                problems.append(
                    FieldProblem("text", f"contains the banned phrase {found[0]!r} (CN-06)")
                )
        channel = activity_channel(activity.type)
        possible = POSSIBLE_OUTCOMES[channel] if channel is not None else ()
        if channel is not None and ACTIVITY_OUTCOMES[activity.outcome] not in possible:
            problems.append(
                FieldProblem(
                    "outcome", f"a {activity.type.value} cannot end {activity.outcome.value}"
                )
            )
        if problems:
            detail = "; ".join(p.message for p in problems)
            raise InvalidReportError("Invalid activity", detail, problems)

    def _replay(self, stored: Row, activity: Activity) -> ActivityResult:
        if stored["body"] != activity.details() or self.texts.open(stored) != activity.text:
            raise ActivityIdReusedError(
                f"Activity {activity.activity_id!r} was recorded with other content."
            )
        return ActivityResult(
            activity.activity_id, stored["assignment_id"], stored["recorded_at"], True
        )


async def own_active(
    uow: UnitOfWork, agency_id: str, assignment_id: str, lock: bool = False
) -> tuple[Row, Row]:
    """The agency's active assignment and its case; refused if it is not the agency's or
    it ended."""
    row = await uow.assignments.get(assignment_id, lock=lock)
    if row is None or row["agency_id"] != agency_id:
        raise AssignmentNotFoundError(f"No assignment {assignment_id!r} is yours.")
    if row["ended_at"] is not None:
        raise AssignmentEndedError(
            f"Assignment {assignment_id!r} was {row['status']} ({row['end_reason']}); "
            "its borrower data is no longer available."
        )
    case = await uow.cases.get(row["lender_id"], row["loan_id"])
    assert case is not None  # an assignment is made from its case
    return row, case
