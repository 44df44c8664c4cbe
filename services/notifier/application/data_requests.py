"""The borrower's data requests (PIPL art. 44-47): what the notifier holds about them, or its
erasure, answered on the data-answers topic in the transaction that did it.

Scope: the borrower at the lender (``borrower_ref``), every loan of theirs. Access: the contact
details held (opened: name, phone, e-mail), language and time zone, contact preferences and
opt-outs, the providers that carried the messages, and every message that went out (when, by
which channel, what kind, its outcome; never its text). Deletion: the contact details of loans
that ended (closed, cured) are erased at once; those of a loan still owed are kept
(``debt_owed``), and so are the records of contacts made, which hold no name, number or address
(``collection_records``): each category is named in ``retention`` with its legal basis. The
answer is sealed with the transit keys for intake alone; a request is answered once, however
often it is delivered.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from services.notifier.application.ports import BorrowerRecords, ContactDetails, UnitOfWork
from services.notifier.domain.files import Case, LoanState
from services.notifier.domain.templates import loan_reference
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

SERVICE = "notifier"
ENDED = frozenset({LoanState.CLOSED, LoanState.CURED})
"""A loan whose contact details go: nothing is owed on it any more."""

DataRequest = tuple[str, DataRequested]  # (the lender, the request)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DataRequestHandlers:
    contact_details: ContactDetails
    clock: Callable[[], datetime] = _now

    async def answer(self, uow: UnitOfWork, requests: Sequence[DataRequest]) -> None:
        """Answer each request not answered yet (and erase, for a deletion); the caller
        commits, so the erasure and its answer are one transaction."""
        store = uow.personal_data
        done = await store.answered({request.request_id for _, request in requests})
        for lender, request in requests:
            if request.request_id in done:
                continue
            done.add(request.request_id)
            now = self.clock()
            if not await store.note_answer(
                request.request_id, lender, request.loan_id, request.kind, now
            ):
                continue  # another consumer answered it meanwhile
            records = await store.records_of(lender, request.borrower_ref)
            if request.kind is DataRequestKind.ACCESS:
                answer = self.access(records)
            else:
                ended = [c.key for c in records.cases if c.state in ENDED and c.contact_sealed]
                await store.erase_contacts(ended, now)
                answer = deletion(records, now)
            data = DataRequestAnswered(
                request_id=request.request_id,
                loan_id=request.loan_id,
                borrower_ref=request.borrower_ref,
                kind=request.kind,
                service=SERVICE,
                answered_at=now,
                sealed_answer=self.contact_details.seal_answer(request.request_id, answer),
            )
            uow.publish(
                DATA_REQUEST_ANSWERED.envelope(
                    source=SERVICE, subject=request.loan_id, tenant=lender, data=data
                )
            )

    def access(self, records: BorrowerRecords) -> DataAnswer:
        """Every item held about the borrower, opened for them; the contacts made."""
        items: dict[tuple[str, str], PersonalDataItem] = {}

        def hold(category: str, value: str | None, purpose: str) -> None:
            if value:
                items.setdefault(
                    (category, value),
                    PersonalDataItem(category=category, value=value, purpose=purpose),
                )

        for case in records.cases:
            ref = loan_reference(case.loan_id)
            if case.contact_sealed:
                contact = self.contact_details.open(
                    case.lender_id, case.loan_id, case.contact_sealed
                )
                purpose = f"to send you reminders and notices about your loan ending {ref}"
                hold("name", contact.name, purpose)
                hold("phone", contact.phone, purpose)
                hold("email", contact.email, purpose)
            hold("locale", case.locale, "to write to you in your language")
            hold("timezone", case.timezone, "to contact you only at the hours the law allows")
        prefs = records.preferences
        if prefs is not None:
            if prefs.reported.model_dump(exclude_defaults=True):
                hold(
                    "contact_preferences",
                    prefs.reported.model_dump_json(exclude_defaults=True),
                    "to contact you only as you asked",
                )
            for channel, at in sorted(prefs.reply_opt_outs.items()):
                hold(
                    "opt_out",
                    f"{channel.value}: replied to opt out on {at.date().isoformat()}",
                    "to send you nothing more on that channel",
                )
        providers: dict[str, datetime] = {}
        for made in records.contacts:
            if made.provider and made.provider not in providers:
                providers[made.provider] = made.at
        return DataAnswer(
            service=SERVICE,
            personal_data=list(items.values()),
            shared_with=[
                SharingRecord(
                    party="provider",
                    party_id=provider,
                    name=provider,
                    shared_at=first,
                    purpose="to deliver our messages to you (your number or address and the "
                    "message)",
                )
                for provider, first in sorted(providers.items(), key=lambda p: p[1])
            ],
            contacts=[
                ContactRecord(
                    at=made.at,
                    party="lender",
                    channel=made.channel.value,
                    kind=made.kind,
                    outcome=made.outcome,
                )
                for made in records.contacts
            ],
        )


def deletion(records: BorrowerRecords, now: datetime) -> DataAnswer:
    """What a deletion erased (contact details of loans that ended) and what it kept, why,
    until when."""
    retention: list[RetentionItem] = []
    for case in records.cases:
        ending = loan_reference(case.loan_id)
        category = f"contact details (name, phone, e-mail) of the loan ending {ending}"
        if case.state in ENDED:
            retention.append(RetentionItem(category=category, erased=True))
        elif case.contact_sealed:
            kept = debt_owed()
            retention.append(
                RetentionItem(
                    category=category,
                    erased=False,
                    legal_basis=kept.legal_basis,
                    kept_until=kept.until,
                )
            )
    last = _last_activity(records, now)
    if last is not None:
        case, at = last
        kept = collection_records(case.jurisdiction, at)
        for category in (
            "contacts made (when, channel, kind, outcome; no content, number or address)",
            "language, time zone, contact preferences and opt-outs",
        ):
            retention.append(
                RetentionItem(
                    category=category,
                    erased=False,
                    legal_basis=kept.legal_basis,
                    kept_until=kept.until,
                )
            )
    return DataAnswer(service=SERVICE, retention=retention)


def _last_activity(records: BorrowerRecords, now: datetime) -> tuple[Case, datetime] | None:
    """The loan of the last contact made and when (none made: the last loan known, now)."""
    cases = {case.loan_id: case for case in records.cases}
    if records.contacts:
        made = max(records.contacts, key=lambda c: c.at)
        if made.loan_id in cases:
            return cases[made.loan_id], made.at
    if records.cases:
        return records.cases[-1], now
    return None
