"""A borrower's data request on fakes: logged, then answered in the clear in the same unit of
work (compliance holds pseudonyms only): an access lists the contacts made with the borrower at
that lender, every loan of theirs (with the rules a contact broke), a deletion erases nothing
and names what the log keeps and until when; a request published again is not answered again.
An answer's entry holds its counts, never its items or a sealed value."""

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson

from services.compliance.adapters.unit_of_work import ComplianceUnitOfWork
from services.compliance.application.data_requests import DataRequests, answer_id
from services.compliance.application.judge import Judge
from services.compliance.application.log_writer import LogWriter
from services.compliance.consumer import Recorder
from services.compliance.domain.entries import new_entry
from shared.crypto import KeyRing
from shared.events.borrowers import (
    ContactRecord,
    DataAnswer,
    DataRequestAnswered,
    DataRequested,
    DataRequestKind,
    DisputeOpened,
    DisputeOutcome,
    DisputeReason,
    DisputeResolved,
    DisputeSource,
    PersonalDataItem,
    RetentionItem,
    seal_answer,
)
from shared.events.catalog import (
    DATA_REQUEST_ANSWERED,
    DATA_REQUESTED,
    DISPUTE_OPENED,
    DISPUTE_RESOLVED,
)
from shared.events.envelope import Envelope
from shared.events.topics import Topic
from shared.kafka.handlers import Received
from shared.personal_data import collection_records
from shared.vocabulary import Jurisdiction
from tests.unit.compliance.fakes import CountingSigner, FakeUnitOfWork, FixedClock, envelope
from tests.unit.compliance.test_judgement import PACKS

LENDER, REF = "lender-1", "bref_7"
PHONE = "+8613800138000"
T0 = datetime(2026, 11, 3, 2, tzinfo=UTC)  # 10:00 in Shanghai


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def report(loan: str, ref: str = REF, jurisdiction: str = "CN") -> Envelope:
    borrower = {"ref": ref, "timezone": "Asia/Shanghai", "locale": "zh-CN"}
    return _envelope(
        "collections.loan.overdue-reported",
        loan_id=loan,
        jurisdiction=jurisdiction,
        borrower=borrower,
    )


def sms(loan: str, hours: float, notification: str, ref: str = REF) -> Envelope:
    return _envelope(
        "collections.notification.sent",
        loan_id=loan,
        borrower_ref=ref,
        notification_id=notification,
        kind="reminder",
        channel="sms",
        status="sent",
        at=at(hours),
    )


def activity(loan: str, hours: float, kind: str = "call", **more: Any) -> Envelope:
    return _envelope(
        "collections.agency.activity-recorded",
        loan_id=loan,
        borrower_ref=REF,
        agency_id="ag",
        activity_id=f"act{hours}",
        type=kind,
        direction="outbound",
        outcome="no_answer",
        at=at(hours),
        **more,
    )


def _envelope(event_type: str, **data: Any) -> Envelope:
    return envelope(event_type, LENDER, **data)


def requested(kind: DataRequestKind, request_id: str = "R-1", loan: str = "L-1") -> Envelope:
    data = DataRequested(
        request_id=request_id,
        loan_id=loan,
        borrower_ref=REF,
        kind=kind,
        requested_at=T0 + timedelta(days=2),
        due_by=T0 + timedelta(days=17),
    )
    return DATA_REQUESTED.envelope(source="/tests", subject=loan, tenant=LENDER, data=data)


def received(envelopes: list[Envelope]) -> list[Received]:
    """As the runner hands them over (only a data request's typed data is read)."""
    return [
        Received(
            e,
            DATA_REQUESTED.parse(e) if e.type == DATA_REQUESTED.name else cast(Any, None),
            cast(Any, None),
        )
        for e in envelopes
    ]


def recorder() -> Recorder:
    clock = FixedClock(T0 + timedelta(days=2))
    writer = LogWriter(CountingSigner(), Judge(PACKS), clock)
    return Recorder(writer, DataRequests(clock, collection_records))


async def record(uow: FakeUnitOfWork, envelopes: list[Envelope]) -> None:
    await recorder().record(cast(ComplianceUnitOfWork, uow), received(envelopes))


def answers(uow: FakeUnitOfWork) -> list[DataRequestAnswered]:
    return [
        DATA_REQUEST_ANSWERED.parse(e)
        for e in uow.published
        if e.type == DATA_REQUEST_ANSWERED.name
    ]


def history() -> list[Envelope]:
    """Two loans of the borrower at the lender, another borrower's loan, contacts on each."""
    return [
        report("L-1"),
        report("L-2"),
        report("L-9", ref="bref_other"),
        sms("L-1", 0, "n1"),
        _envelope(
            "collections.notification.delivered",
            loan_id="L-1",
            borrower_ref=REF,
            notification_id="n1",
            kind="reminder",
            channel="sms",
            status="delivered",
            at=at(0.1),
        ),
        activity("L-2", 13),  # 23:00 in Shanghai: CN-01 (and CN-09: no placement)
        activity("L-2", 3, kind="note", text_hmac="ab"),  # a note: no contact
        sms("L-9", 1, "n9", ref="bref_other"),
    ]


async def test_an_access_request_lists_the_borrowers_contacts_in_the_clear() -> None:
    uow = FakeUnitOfWork()
    await record(uow, history())
    ask = requested(DataRequestKind.ACCESS)
    await record(uow, [ask])

    (answered,) = answers(uow)
    assert (answered.request_id, answered.kind, answered.service) == ("R-1", "access", "compliance")
    assert answered.sealed_answer is None
    assert answered.answer is not None
    given = answered.answer
    assert given.personal_data == []
    assert given.shared_with == []
    assert given.retention == []
    assert [(c.party, c.channel, c.kind) for c in given.contacts] == [
        ("lender", "sms", "reminder"),
        ("agency:ag", "phone_call", "call"),
    ]
    assert given.contacts[0] == ContactRecord(
        at=T0, party="lender", channel="sms", kind="reminder", outcome="delivered"
    )
    breached = given.contacts[1].outcome
    assert breached.startswith("no_answer; found in breach of ")
    assert "CN-01" in breached
    envelope = next(e for e in uow.published if e.type == DATA_REQUEST_ANSWERED.name)
    assert envelope.id == answer_id(LENDER, "R-1")
    assert (envelope.subject, envelope.tenantid) == ("L-1", LENDER)
    assert DATA_REQUEST_ANSWERED.topic is Topic.DATA_ANSWERS


async def test_a_deletion_erases_nothing_and_keeps_the_log_as_collection_records() -> None:
    uow = FakeUnitOfWork()
    await record(uow, history())
    await record(uow, [requested(DataRequestKind.DELETION, "R-2")])

    (answered,) = answers(uow)
    assert answered.answer is not None
    assert answered.answer.contacts == []
    assert answered.answer.personal_data == []
    (kept,) = answered.answer.retention
    last_contact = T0 + timedelta(hours=13)  # the agency's call, on L-2
    rule = collection_records(Jurisdiction.CN, last_contact)
    assert kept == RetentionItem(
        category="audit_log_entries",
        erased=False,
        legal_basis=kept.legal_basis,
        kept_until=rule.until,
    )
    assert kept.legal_basis is not None
    assert kept.legal_basis.startswith(rule.legal_basis)
    assert "CN-08" in kept.legal_basis
    assert "no names, numbers or addresses" in kept.legal_basis
    assert rule.until == last_contact.replace(year=last_contact.year + 5)


async def test_a_deletion_of_a_borrower_the_log_knows_nothing_of() -> None:
    uow = FakeUnitOfWork()
    await record(uow, [requested(DataRequestKind.DELETION, "R-3", loan="L-none")])
    (answered,) = answers(uow)
    assert answered.answer is not None
    (kept,) = answered.answer.retention
    assert (kept.erased, kept.kept_until) == (False, None)


async def test_a_deletion_keeps_each_jurisdictions_records_from_its_last_activity() -> None:
    uow = FakeUnitOfWork()
    us = report("L-3", jurisdiction="US")
    await record(uow, [report("L-1"), us, sms("L-1", 5, "n5")])
    await record(uow, [requested(DataRequestKind.DELETION, "R-5")])
    (answered,) = answers(uow)
    assert answered.answer is not None
    cn, us_kept = answered.answer.retention  # by jurisdiction: CN, then US
    assert cn.kept_until == collection_records(Jurisdiction.CN, T0 + timedelta(hours=5)).until
    assert us_kept.kept_until == collection_records(Jurisdiction.US, us.time).until  # no contact
    assert us_kept.legal_basis is not None
    assert "US-11" in us_kept.legal_basis
    assert us_kept.kept_until is not None
    assert us_kept.kept_until.year == us.time.year + 3


async def test_a_request_is_answered_once_redelivered_or_published_again() -> None:
    uow = FakeUnitOfWork()
    await record(uow, history())
    ask = requested(DataRequestKind.ACCESS)
    again = requested(DataRequestKind.ACCESS)  # intake published it again: another event id
    await record(uow, [ask, again])
    await record(uow, [requested(DataRequestKind.ACCESS)])
    assert [a.request_id for a in answers(uow)] == ["R-1"]
    assert uow.log.types().count(DATA_REQUESTED.name) == 3  # every event is logged
    await record(uow, [requested(DataRequestKind.DELETION, "R-4")])
    assert [a.request_id for a in answers(uow)] == ["R-1", "R-4"]


async def test_the_answer_is_published_in_the_unit_of_work_that_logged_the_request() -> None:
    uow = FakeUnitOfWork()
    ask = requested(DataRequestKind.ACCESS)
    await record(uow, [report("L-1"), ask])
    assert [e.type for e in uow.published] == [DATA_REQUEST_ANSWERED.name]
    assert uow.log.types()[-1] == DATA_REQUESTED.name
    assert len(uow.checkpoints.saved) == 1  # one batch, one signed checkpoint


def _answered(**answer: Any) -> DataRequestAnswered:
    return DataRequestAnswered(
        request_id="R-1",
        loan_id="L-1",
        borrower_ref=REF,
        kind=DataRequestKind.ACCESS,
        service="notifier",
        answered_at=T0,
        **answer,
    )


def test_a_sealed_answer_never_enters_the_log() -> None:
    transit = KeyRing.parse(KeyRing.generate_spec("k1"))
    secret = DataAnswer(
        service="notifier",
        personal_data=[PersonalDataItem(category="phone", value=PHONE, purpose="reminders")],
    )
    sealed = seal_answer(transit, "R-1", secret)
    env = DATA_REQUEST_ANSWERED.envelope(
        source="/tests", subject="L-1", tenant=LENDER, data=_answered(sealed_answer=sealed)
    )
    canonical = new_entry(env).canonical
    logged = orjson.loads(canonical)["data"]
    assert logged.pop("answered_at")
    assert logged == {
        "request_id": "R-1",
        "loan_id": "L-1",
        "borrower_ref": REF,
        "kind": "access",
        "service": "notifier",
        "sealed": True,
        "counts": None,
    }
    wire = orjson.loads(env.to_bytes())["data"]["sealed_answer"]
    for value in wire.values():
        assert str(value).encode() not in canonical
    assert PHONE.encode() not in canonical


def test_an_answer_in_the_clear_is_logged_as_counts_not_items() -> None:
    given = DataAnswer(
        service="compliance",
        contacts=[
            ContactRecord(at=T0, party="lender", channel="sms", kind="reminder", outcome="sent")
        ]
        * 3,
        retention=[
            RetentionItem(category="audit_log_entries", erased=False, legal_basis="CN-08"),
            RetentionItem(category="email", erased=True),
        ],
    )
    env = DATA_REQUEST_ANSWERED.envelope(
        source="/tests", subject="L-1", tenant=LENDER, data=_answered(answer=given)
    )
    logged = orjson.loads(new_entry(env).canonical)["data"]
    assert "answer" not in logged
    assert logged["sealed"] is False
    assert logged["counts"] == {
        "personal_data": 0,
        "shared_with": 0,
        "contacts": 3,
        "retention": 2,
        "erased": 1,
    }
    assert b"reminder" not in new_entry(env).canonical
    assert new_entry(env).loan_id == "L-1"
    assert new_entry(env).borrower_ref == REF


def test_the_borrowers_dispute_events_are_logged_whole() -> None:
    opened = DisputeOpened(
        loan_id="L-1",
        dispute_id="D-1",
        borrower_ref=REF,
        reason=DisputeReason.NOT_MINE,
        hold_id="dispute:D-1",
        opened_at=T0,
    )
    resolved = DisputeResolved(
        loan_id="L-1",
        dispute_id="D-1",
        borrower_ref=REF,
        source=DisputeSource.BORROWER,
        outcome=DisputeOutcome.REJECTED,
        hold_id="dispute:D-1",
        resolved_at=T0,
    )
    for event_type, data in ((DISPUTE_OPENED, opened), (DISPUTE_RESOLVED, resolved)):
        env = event_type.envelope(source="/tests", subject="L-1", tenant=LENDER, data=data)
        logged = new_entry(env)
        assert (logged.event_type, logged.loan_id, logged.borrower_ref) == (
            event_type.name,
            "L-1",
            REF,
        )
        assert orjson.loads(logged.canonical)["data"] == data.model_dump(mode="json")
