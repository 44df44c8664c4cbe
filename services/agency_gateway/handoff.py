"""What the handoff API does for an agency, each use case in one transaction with its events."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.activities import ActivityLog, ActivityTexts
from services.agency_gateway.adapters.assignments import AssignmentStore
from services.agency_gateway.adapters.cases import (
    CaseRepository,
    OptOutRepository,
    PreferenceRepository,
)
from services.agency_gateway.adapters.contacts import CONTACT, ContactKeys
from services.agency_gateway.adapters.ledger import ContactLedger
from services.agency_gateway.api.models import (
    ActivityRecorded,
    ActivityReport,
    AssignmentDetail,
    AssignmentItem,
    Borrower,
    ContactCheckAnswer,
)
from services.agency_gateway.domain.handoff import (
    PlacementRecord,
    contact_answer,
    debt_facts,
    intended_contact,
)
from services.agency_gateway.outcomes import SOURCE, end_assignment
from shared.contact_rules import RulePack
from shared.contact_rules.ledger import POSSIBLE_OUTCOMES
from shared.contact_rules.sources import (
    ACTIVITY_OUTCOMES,
    activity_channel,
    activity_contact,
    debt_id,
)
from shared.contact_rules.wording import banned_in
from shared.db.engine import transaction
from shared.db.unit_of_work import enqueue
from shared.events.assignments import ActivityType, AgencyActivityRecorded, AssignmentAcknowledged
from shared.events.catalog import AGENCY_ACTIVITY_RECORDED, ASSIGNMENT_ACKNOWLEDGED
from shared.events.models import BorrowerContact
from shared.http.problems import ProblemError
from shared.runtime import ServiceRuntime
from shared.vocabulary import Channel, Jurisdiction


@dataclass(frozen=True)
class Handoff:
    runtime: ServiceRuntime
    keys: ContactKeys
    texts: ActivityTexts
    packs: Mapping[Jurisdiction, RulePack]
    banned: tuple[str, ...]
    assignments_topic: str
    activities_topic: str

    async def detail(self, agency_id: str, assignment_id: str) -> AssignmentDetail:
        async with transaction(self.runtime.sessions) as session:
            row, case = await own_active(session, agency_id, assignment_id)
        borrower: Borrower | None = None
        withheld: str | None = "borrower_notice_pending"
        if row["notice_sent_at"] is not None:
            contact = BorrowerContact.model_validate_json(CONTACT.open(self.keys.storage, case))
            borrower = Borrower(
                name=contact.name,
                phone=contact.phone,
                email=contact.email,
                timezone=case["borrower_zone"],
            )
            withheld = None
        return AssignmentDetail(
            **AssignmentItem.of(row).model_dump(),
            jurisdiction=case["jurisdiction"],
            days_past_due=case["days_past_due"],
            borrower=borrower,
            withheld_reason=withheld,
        )

    async def acknowledge(self, agency_id: str, assignment_id: str) -> AssignmentItem:
        async with transaction(self.runtime.sessions) as session:
            row, _case = await own_active(session, agency_id, assignment_id, lock=True)
            if row["status"] == "placed":
                now = datetime.now(UTC)
                changes = {"status": "acknowledged", "acknowledged_at": now, "updated_at": now}
                await AssignmentStore(session).change(assignment_id, **changes)
                row.update(changes)
                data = AssignmentAcknowledged(
                    assignment_id=assignment_id,
                    loan_id=row["loan_id"],
                    agency_id=agency_id,
                    acknowledged_at=now,
                )
                await publish(session, self.assignments_topic, row, ASSIGNMENT_ACKNOWLEDGED, data)
        return AssignmentItem.of(row)

    async def give_back(self, agency_id: str, assignment_id: str, reason: str) -> AssignmentItem:
        async with transaction(self.runtime.sessions) as session:
            row, case = await own_active(session, agency_id, assignment_id, lock=True)
            now = datetime.now(UTC)
            event = await end_assignment(
                session, row, case["borrower_ref"], "returned", reason, now, None
            )
            await enqueue(session, self.assignments_topic, [event])
            row = await AssignmentStore(session).get(assignment_id) or row
        return AssignmentItem.of(row)

    async def activity(
        self, agency_id: str, assignment_id: str, body: ActivityReport
    ) -> ActivityRecorded:
        """Recorded with its text sealed; the event carries the text's keyed hash and the
        banned phrases found in it, never the text."""
        self._screen(body)
        identity = {"agency_id": agency_id, "activity_id": body.activity_id}
        async with transaction(self.runtime.sessions) as session:
            row, case = await own_active(session, agency_id, assignment_id)
            log = ActivityLog(session)
            stored = await log.add(
                identity
                | {
                    "assignment_id": assignment_id,
                    "body": body.model_dump(mode="json", exclude={"text"}),
                    "text_sealed": None
                    if body.text is None
                    else self.texts.seal(body.text, identity),
                    "recorded_at": datetime.now(UTC),
                }
            )
            if stored is None:
                return self._replay(await log.get(agency_id, body.activity_id), body)
            data = AgencyActivityRecorded(
                **body.model_dump(exclude={"text"}),
                assignment_id=assignment_id,
                loan_id=row["loan_id"],
                borrower_ref=case["borrower_ref"],
                agency_id=agency_id,
                text_hmac=None if body.text is None else self.texts.digest(body.text),
                banned_phrases=[] if body.text is None else banned_in(body.text, self.banned),
            )
            made = activity_contact(row["lender_id"], data)
            if made is not None:
                await ContactLedger(session).record([(made, (row["lender_id"], row["loan_id"]))])
            await publish(session, self.activities_topic, row, AGENCY_ACTIVITY_RECORDED, data)
        return ActivityRecorded(
            activity_id=body.activity_id,
            assignment_id=assignment_id,
            recorded_at=stored["recorded_at"],
            replayed=False,
        )

    async def contact_check(
        self, agency_id: str, assignment_id: str, channel: Channel, at: datetime
    ) -> ContactCheckAnswer:
        async with transaction(self.runtime.sessions) as session:
            row, case = await own_active(session, agency_id, assignment_id)
            key = (row["lender_id"], row["loan_id"])
            history = await AssignmentStore(session).of_loan(*key)
            prefs = (await PreferenceRepository(session).of([(key[0], case["borrower_ref"])])).get(
                (key[0], case["borrower_ref"])
            )
            ledger = await ContactLedger(session).of_loan(*key, case["borrower_ref"])
            replies = await OptOutRepository(session).of(key[0], case["borrower_ref"])
        debt = debt_id(*key)
        facts = debt_facts(
            debt,
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
        answer = contact_answer(intended, ledger, facts, pack, row["notice_sent_at"] is not None)
        return ContactCheckAnswer(
            allowed=answer.allowed,
            rules=list(answer.rules),
            explanation=answer.explanation,
            next_allowed_at=answer.next_allowed_at,
        )

    def _screen(self, body: ActivityReport) -> None:
        """422 for what a report of its type lacks."""
        problems = []
        if body.type is ActivityType.VISIT and (
            body.recording_id is None or body.staff_count is None
        ):
            problems.append(("recording_id", "a visit names its recording_id and staff_count"))
        if body.type is ActivityType.NOTE:
            if body.text is None:
                problems.append(("text", "a note has its text"))
            elif found := banned_in(body.text, self.banned):
                problems.append(("text", f"contains the banned phrase {found[0]!r} (CN-06)"))
        channel = activity_channel(body.type)
        possible = POSSIBLE_OUTCOMES[channel] if channel is not None else ()
        if channel is not None and ACTIVITY_OUTCOMES[body.outcome] not in possible:
            problems.append(("outcome", f"a {body.type.value} cannot end {body.outcome.value}"))
        if problems:
            raise ProblemError(
                422,
                "Invalid activity",
                "; ".join(message for _, message in problems),
                errors=[
                    {"field": f"body.{f}", "message": m, "code": "invalid"} for f, m in problems
                ],
            )

    def _replay(self, stored: dict[str, Any], body: ActivityReport) -> ActivityRecorded:
        same = stored["body"] == json.loads(body.model_dump_json(exclude={"text"}))
        if not same or self.texts.open(stored) != body.text:
            raise ProblemError(
                409,
                "Activity id reused",
                f"Activity {body.activity_id!r} was recorded with other content.",
                errors=[
                    {"field": "body.activity_id", "message": "already used", "code": "conflict"}
                ],
            )
        return ActivityRecorded(
            activity_id=body.activity_id,
            assignment_id=stored["assignment_id"],
            recorded_at=stored["recorded_at"],
            replayed=True,
        )


async def own_active(
    session: AsyncSession, agency_id: str, assignment_id: str, lock: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    row = await AssignmentStore(session).get(assignment_id, lock=lock)
    if row is None or row["agency_id"] != agency_id:
        raise ProblemError(
            404, "Assignment not found", f"No assignment {assignment_id!r} is yours."
        )
    if row["ended_at"] is not None:
        raise ProblemError(
            410,
            "Assignment ended",
            f"Assignment {assignment_id!r} was {row['status']} ({row['end_reason']}); "
            "its borrower data is no longer available.",
        )
    case = await CaseRepository(session).get(row["lender_id"], row["loan_id"])
    assert case is not None  # an assignment is made from its case
    return row, case


async def publish(
    session: AsyncSession, topic: str, row: dict[str, Any], event_type: Any, data: Any
) -> None:
    envelope = event_type.envelope(
        source=SOURCE, subject=row["loan_id"], tenant=row["lender_id"], data=data
    )
    await enqueue(session, topic, [envelope])
