"""The borrower's data on fakes: the link every message carries (scoped to the loan, never
logged), data requests answered once each (access: what is held, opened; deletion: contact
details of ended loans erased, the rest kept with its legal basis), and retention erasing
contact details a set time after a loan ended."""

import copy
import logging
from datetime import timedelta

import pytest

from services.notifier.application.data_requests import DataRequestHandlers
from services.notifier.application.retention import RetentionHandlers
from services.notifier.domain.files import Case, LoanState, Preferences
from services.notifier.domain.lifecycle import CaseBatch
from shared.events.borrowers import DataRequestAnswered, DataRequested, DataRequestKind
from shared.events.catalog import DATA_REQUEST_ANSWERED
from shared.events.models import ContactPreferences
from shared.events.notifications import NotificationStatus
from shared.personal_data import collection_records, debt_owed
from shared.vocabulary import Channel, Jurisdiction
from tests.unit.notifier.fakes import opened_answer
from tests.unit.notifier.support import book
from tests.unit.notifier.world import BORROWER_SITE, LENDER, LINKS, PHONE, World


def request(case: Case, kind: DataRequestKind, request_id: str = "R1") -> DataRequested:
    return DataRequested(
        request_id=request_id,
        loan_id=case.loan_id,
        borrower_ref=case.borrower_ref,
        kind=kind,
        requested_at=case.as_of,
        due_by=case.as_of + timedelta(days=15),
    )


async def answer(world: World, *requests: DataRequested) -> list[DataRequestAnswered]:
    handlers = DataRequestHandlers(world.contact_details, clock=world.db.clock)
    async with world.unit_of_work() as uow:
        await handlers.answer(uow, [(LENDER, r) for r in requests])
        await uow.commit()
    return [
        DATA_REQUEST_ANSWERED.parse(e)
        for e in world.db.outbox
        if e.type == DATA_REQUEST_ANSWERED.name
    ]


def same_borrower(world: World, loan_id: str, ref: str) -> Case:
    case = world.loan(loan_id)
    case.borrower_ref = ref
    return case


async def test_every_message_links_to_the_borrowers_page_for_that_loan_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    world = World()
    case = world.loan()
    world.due(case, Channel.SMS)
    world.due(case, Channel.EMAIL, step=2)
    await world.sender.send_due()
    (sms,), (email,) = world.sms.sent, world.email.sent
    for message in (sms, email):
        link = next(w for w in message.body.split() if w.startswith(f"{BORROWER_SITE}/b/"))
        claims = LINKS.open(link.removeprefix(f"{BORROWER_SITE}/b/"), now=world.now)
        assert (claims.lender_id, claims.loan_id, claims.borrower_ref) == (
            LENDER,
            case.loan_id,
            case.borrower_ref,
        )
        assert link not in caplog.text
        assert link.rpartition("/")[2] not in caplog.text
    assert sms.unsubscribe_url is None
    assert email.unsubscribe_url is not None
    assert email.unsubscribe_url.startswith(f"{BORROWER_SITE}/b/b1.")
    assert email.unsubscribe_url.endswith("/unsubscribe")
    assert "reply UNSUBSCRIBE" not in email.body


async def test_an_access_request_lists_what_is_held_opened_and_the_contacts_made() -> None:
    world = World()
    first = world.loan("L1")
    second = same_borrower(world, "L2", first.borrower_ref)
    other = world.loan("L3")  # another borrower: not in the answer
    sent = world.due(first)
    world.due(other)
    await world.sender.send_due()
    world.db.preferences[(LENDER, first.borrower_ref)] = _prefs(first, opted_out=[Channel.EMAIL])
    (answered,) = await answer(world, request(second, DataRequestKind.ACCESS))
    assert (answered.request_id, answered.loan_id, answered.service) == ("R1", "L2", "notifier")
    assert answered.answer is None
    assert answered.sealed_answer is not None
    data = opened_answer(answered.sealed_answer)
    held = {(item.category, item.value) for item in data.personal_data}
    assert {
        ("name", "张三"),
        ("phone", PHONE),
        ("email", "zhangsan@example.com"),
        ("locale", "zh-CN"),
        ("timezone", "Asia/Shanghai"),
    } <= held
    assert any(c == "contact_preferences" and "email" in v for c, v in held)
    assert all(item.purpose for item in data.personal_data)
    (contact,) = data.contacts
    stored = world.db.stored(sent)
    assert (contact.channel, contact.kind, contact.outcome, contact.party) == (
        "sms",
        "reminder",
        stored.status.value,
        "lender",
    )
    assert [s.party_id for s in data.shared_with] == ["twilio"]


async def test_a_deletion_erases_contacts_of_ended_loans_and_keeps_the_rest_with_reasons() -> None:
    world = World()
    owed = world.loan("L1")
    ended = same_borrower(world, "L2", owed.borrower_ref)
    ended.state, ended.ended_at = LoanState.CURED, world.now
    world.due(owed)
    await world.sender.send_due()
    (answered,) = await answer(world, request(owed, DataRequestKind.DELETION))
    assert world.db.cases[ended.key].contact_sealed == {}
    assert world.db.cases[ended.key].reachable == frozenset()
    assert world.db.cases[owed.key].contact_sealed != {}
    assert answered.sealed_answer is not None
    retention = {r.category: r for r in opened_answer(answered.sealed_answer).retention}
    erased = retention["contact details (name, phone, e-mail) of the loan ending L2"]
    assert (erased.erased, erased.legal_basis) == (True, None)
    kept = retention["contact details (name, phone, e-mail) of the loan ending L1"]
    assert (kept.erased, kept.legal_basis, kept.kept_until) == (
        False,
        debt_owed().legal_basis,
        None,
    )
    records = next(r for c, r in retention.items() if c.startswith("contacts made"))
    last_sent = max(t.at for t in world.db.history if t.status is NotificationStatus.SENT)
    expected = collection_records(Jurisdiction.CN, last_sent)
    assert (records.erased, records.legal_basis, records.kept_until) == (
        False,
        expected.legal_basis,
        expected.until,
    )
    assert records.legal_basis is not None
    assert records.legal_basis.startswith("CN-08")


async def test_a_request_delivered_twice_is_answered_once() -> None:
    world = World()
    case = world.loan()
    again = request(case, DataRequestKind.ACCESS)
    await answer(world, again, again)
    answers = await answer(world, again)
    assert len(answers) == 1
    assert world.db.answered == {"R1": "access"}


async def test_a_borrower_the_notifier_never_heard_of_still_gets_an_answer() -> None:
    world = World()
    case = world.loan()
    del world.db.cases[case.key]
    (answered,) = await answer(world, request(case, DataRequestKind.DELETION))
    assert answered.sealed_answer is not None
    assert opened_answer(answered.sealed_answer).retention == []


async def test_retention_erases_contact_details_only_once_the_loan_ended_long_enough() -> None:
    world = World()
    active = world.loan("L1")
    closed = world.loan("L2")
    closed.state, closed.ended_at = LoanState.CLOSED, world.now
    recalled = world.loan("L3")
    recalled.state, recalled.ended_at = LoanState.RECALLED, world.now
    with_answer_pending = world.loan("L4")
    with_answer_pending.state, with_answer_pending.ended_at = LoanState.CLOSED, world.now
    world.due(with_answer_pending)
    retention = RetentionHandlers(
        world.unit_of_work, timedelta(days=30), batch_size=1, clock=world.db.clock
    )
    assert await retention.erase_due() == 0
    world.later(timedelta(days=30))
    assert await retention.erase_due() == 1
    assert world.db.cases[closed.key].contact_sealed == {}
    assert world.db.cases[closed.key].phone_refs == []
    for kept in (active, recalled, with_answer_pending):
        assert world.db.cases[kept.key].contact_sealed
    assert await retention.erase_due() == 0


async def test_retention_of_zero_days_erases_at_the_next_pass() -> None:
    world = World()
    cases = [world.loan(f"L{i}") for i in range(3)]
    for case in cases:
        case.state, case.ended_at = LoanState.CURED, world.now
    retention = RetentionHandlers(
        world.unit_of_work, timedelta(0), batch_size=2, clock=world.db.clock
    )
    assert await retention.erase_due() == 3  # two batches
    assert all(world.db.cases[c.key].contact_sealed == {} for c in cases)


async def test_a_message_of_a_loan_whose_contact_details_were_erased_is_cancelled() -> None:
    world = World()
    case = world.loan()
    n = world.due(case)
    case.contact_sealed, case.reachable = {}, frozenset()
    await world.sender.send_due()
    stored = world.db.stored(n)
    assert (stored.status, stored.reason) == (NotificationStatus.CANCELLED, "no_sms_address")
    assert world.sms.sent == []


def _prefs(case: Case, opted_out: list[Channel]) -> Preferences:
    return Preferences(
        case.lender_id,
        case.borrower_ref,
        ContactPreferences(opted_out_channels=opted_out),
        case.as_of,
    )


def test_a_later_report_brings_erased_contact_details_back_sealed() -> None:
    world = World()
    case = world.loan()
    fresh = copy.deepcopy(case)
    case.state, case.ended_at = LoanState.CLOSED, world.now
    case.contact_sealed, case.phone_refs, case.reachable = {}, [], frozenset()
    batch = CaseBatch(book(), world.now)
    batch.loans[case.key] = case
    fresh.as_of = case.as_of + timedelta(days=1)
    batch.report(fresh)
    assert case.contact_sealed == fresh.contact_sealed != {}
    assert case.reachable == frozenset({Channel.SMS, Channel.EMAIL})
    assert case.key in batch.touched_loans
