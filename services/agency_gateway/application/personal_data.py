"""The borrower's personal data at the gateway: data requests answered, contact details erased.

A data request (``DataRequested``, from intake) covers the borrower at the lender (lender and
``borrower_ref``), every loan of theirs. Access: the contact details each case holds (opened),
its region and time zone, every agency it was shared with and when, the contacts agencies
reported (no text) and the promises and payments they recorded. Deletion: the contact details
(with region, time zone and agencies' note texts) of each loan that ended and no agency holds
are erased at once; those of a loan still owed are kept (``debt_owed``), and the records of
placements and contacts are kept without plaintext (``collection_records``); the answer says
which. The answer (``DataRequestAnswered``, sealed for intake) is published in the unit of work
that did the erasure.

The retention worker erases the same contact details ``retention`` after the loan ended.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.agency_gateway.application.events import loan_event
from services.agency_gateway.application.ports import (
    AnswerSealing,
    Clock,
    ContactSealing,
    LoanKey,
    Received,
    Row,
    UnitOfWork,
    utc_now,
)
from services.agency_gateway.domain.cases import loan_ended
from shared.contact_rules.sources import activity_channel
from shared.events.assignments import ActivityType
from shared.events.borrowers import (
    ContactRecord,
    DataAnswer,
    DataRequestAnswered,
    DataRequested,
    DataRequestKind,
    PersonalDataItem,
    RetentionItem,
    SharingRecord,
)
from shared.events.catalog import DATA_REQUEST_ANSWERED
from shared.personal_data import collection_records, debt_owed
from shared.vocabulary import Jurisdiction

SERVICE = "agency_gateway"
SHARING_PURPOSE = "collection of the overdue debt on the lender's behalf"
CONTACT_PURPOSE = (
    "to let the collection agency holding loan {loan} reach you about its overdue debt "
    "(shown to an agency only once you were told it holds the account)"
)
PLACEMENT_PURPOSE = "to place loan {loan} with an agency serving your region"
COMMITMENT_PURPOSE = "what the agency holding loan {loan} recorded of its collection"


def contact_details(loan_id: str) -> str:
    return f"contact details (name, phone, e-mail), region and time zone: loan {loan_id}"


def agency_notes(loan_id: str) -> str:
    return f"agencies' notes: loan {loan_id}"


def collection_history(loan_id: str) -> str:
    return f"placements, contacts, promises and payments (no content): loan {loan_id}"


@dataclass(frozen=True)
class Borrowing:
    """What the gateway holds of a borrower: their cases and the loans' assignments."""

    cases: list[Row]
    assignments: list[Row]  # oldest first

    def of(self, case: Row) -> list[Row]:
        key = (case["lender_id"], case["loan_id"])
        return [a for a in self.assignments if (a["lender_id"], a["loan_id"]) == key]

    def erasable(self) -> list[Row]:
        """The cases holding contact details whose loan ended and no agency holds."""
        return [
            c
            for c in self.cases
            if c["contact_sealed"] is not None
            and loan_ended(c)
            and all(a["ended_at"] is not None for a in self.of(c))
        ]


async def erase(uow: UnitOfWork, keys: Sequence[LoanKey], now: datetime) -> None:
    """Erase the loans' contact details, region, time zone and agencies' note texts."""
    await uow.cases.erase_contacts(keys, now)
    await uow.activities.erase_texts(keys)


@dataclass(frozen=True)
class DataRequestHandlers:
    """The consumer's use case for ``DataRequested``: each request answered once per event
    (the inbox makes a redelivery a no-op; a repeated deletion erases nothing new)."""

    contacts: ContactSealing
    seal: AnswerSealing
    clock: Clock = field(default=utc_now)

    async def answer(self, uow: UnitOfWork, events: Sequence[Received[DataRequested]]) -> None:
        answered: set[str] = set()
        for event in events:
            request = event.data
            if request.request_id in answered:
                continue  # the same request twice in a batch: one answer
            answered.add(request.request_id)
            lender_id = event.envelope.tenantid
            cases = await uow.cases.of_borrower(lender_id, request.borrower_ref)
            keys = [(c["lender_id"], c["loan_id"]) for c in cases]
            held = Borrowing(cases, await uow.assignments.of_loans(keys))
            now = self.clock()
            if request.kind is DataRequestKind.DELETION:
                answer = await self._delete(uow, held, now)
            else:
                answer = await self._access(uow, held)
            data = DataRequestAnswered(
                request_id=request.request_id,
                loan_id=request.loan_id,
                borrower_ref=request.borrower_ref,
                kind=request.kind,
                service=SERVICE,
                answered_at=now,
                sealed_answer=self.seal(request.request_id, answer),
            )
            row = {"lender_id": lender_id, "loan_id": request.loan_id}
            uow.publish(loan_event(row, DATA_REQUEST_ANSWERED, data))

    async def _access(self, uow: UnitOfWork, held: Borrowing) -> DataAnswer:
        agencies = {a["agency_id"]: a["name"] for a in await uow.agencies.all()}
        items: list[PersonalDataItem] = []
        for case in held.cases:
            items += self._held_data(case)
            for assignment in held.of(case):
                items += await _commitments(uow, assignment)
        shared = [
            SharingRecord(
                party="agency",
                party_id=a["agency_id"],
                name=agencies.get(a["agency_id"], a["agency_id"]),
                shared_at=a["placed_at"],
                ended_at=a["ended_at"],
                purpose=SHARING_PURPOSE,
            )
            for a in held.assignments
        ]
        activities = await uow.activities.of_assignments(
            [a["assignment_id"] for a in held.assignments]
        )
        return DataAnswer(
            service=SERVICE,
            personal_data=items,
            shared_with=shared,
            contacts=[c for a in activities if (c := _contact(a)) is not None],
        )

    def _held_data(self, case: Row) -> list[PersonalDataItem]:
        loan = case["loan_id"]
        found: list[tuple[str, str | None, str]] = []
        if case["contact_sealed"] is not None:
            contact = self.contacts.opened(case)
            purpose = CONTACT_PURPOSE.format(loan=loan)
            found += [
                ("name", contact.name, purpose),
                ("phone", contact.phone, purpose),
                ("email", contact.email, purpose),
            ]
        found += [
            ("region", case["region"], PLACEMENT_PURPOSE.format(loan=loan)),
            ("timezone", case["borrower_zone"], CONTACT_PURPOSE.format(loan=loan)),
        ]
        return [
            PersonalDataItem(category=category, value=value, purpose=purpose)
            for category, value, purpose in found
            if value is not None
        ]

    async def _delete(self, uow: UnitOfWork, held: Borrowing, now: datetime) -> DataAnswer:
        erasable = held.erasable()
        await erase(uow, [(c["lender_id"], c["loan_id"]) for c in erasable], now)
        erased = {c["loan_id"] for c in erasable}
        activities = await uow.activities.of_assignments(
            [a["assignment_id"] for a in held.assignments]
        )
        owed = debt_owed()
        retention: list[RetentionItem] = []
        for case in held.cases:
            loan = case["loan_id"]
            gone = loan in erased or case["contact_sealed"] is None
            for category in (contact_details(loan), agency_notes(loan)):
                retention.append(
                    RetentionItem(category=category, erased=True)
                    if gone
                    else RetentionItem(
                        category=category, erased=False, legal_basis=owed.legal_basis
                    )
                )
            assignments = held.of(case)
            if assignments:
                records = collection_records(
                    Jurisdiction(case["jurisdiction"]),
                    _last_activity(case, assignments, activities),
                )
                retention.append(
                    RetentionItem(
                        category=collection_history(loan),
                        erased=False,
                        legal_basis=records.legal_basis,
                        kept_until=records.until,
                    )
                )
        return DataAnswer(service=SERVICE, retention=retention)


async def _commitments(uow: UnitOfWork, assignment: Row) -> list[PersonalDataItem]:
    """The promises and payments an agency recorded on the assignment."""
    purpose = COMMITMENT_PURPOSE.format(loan=assignment["loan_id"])
    by = f"recorded by agency {assignment['agency_id']}"
    items = [
        PersonalDataItem(
            category="promise_to_pay",
            value=f"{p['amount']} {p['currency']} by {p['due_date']} ({by})",
            purpose=purpose,
        )
        for p in await uow.commitments.promises(assignment["assignment_id"])
    ]
    items += [
        PersonalDataItem(
            category="payment_reported",
            value=f"{p['amount']} {p['currency']} paid {p['paid_at'].isoformat()} ({by})",
            purpose=purpose,
        )
        for p in await uow.commitments.payments(assignment["assignment_id"])
    ]
    return items


def _contact(activity: Row) -> ContactRecord | None:
    """An agency's reported contact, without its text; None for a note (no contact)."""
    body = activity["body"]
    kind = ActivityType(body["type"])
    channel = activity_channel(kind)
    if channel is None:
        return None
    return ContactRecord(
        at=datetime.fromisoformat(body["at"]),
        party=f"agency:{activity['agency_id']}",
        channel=channel.value,
        kind=kind.value,
        outcome=body["outcome"],
    )


def _last_activity(case: Row, assignments: list[Row], activities: list[Row]) -> datetime:
    """The latest moment of collection on the loan: a placement, its end, a contact."""
    ids = {a["assignment_id"] for a in assignments}
    moments = [a["placed_at"] for a in assignments]
    moments += [a["ended_at"] for a in assignments if a["ended_at"] is not None]
    moments += [
        datetime.fromisoformat(a["body"]["at"]) for a in activities if a["assignment_id"] in ids
    ]
    latest: datetime = max(moments, default=case["as_of"])
    return latest


@dataclass(frozen=True)
class ContactRetention:
    """The retention worker's use case: contact details leave ``retention`` after the loan
    ended (cured, closed or recalled) once no agency holds it."""

    retention: timedelta

    async def erase_due(self, uow: UnitOfWork, now: datetime, limit: int) -> int:
        """Erase up to ``limit`` cases' contact details that are due; how many."""
        keys = await uow.cases.erasable(now - self.retention, limit)
        await erase(uow, keys, now)
        return len(keys)
