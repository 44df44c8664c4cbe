"""A borrower's data requests answered by the gateway, on real Kafka and PostgreSQL: intake's
``data-requested`` (access or deletion, the borrower at the lender, every loan of theirs) is
answered on the data-answers topic, sealed for intake; access shows the contact details, every
agency the loans were placed with and the contacts they reported; deletion erases the contact
details of the loan that ended, keeps those of the loan still owed, and says why; a redelivered
request is answered once; an agency sees an erased borrower as erased."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from services.agency_gateway.settings import AgencyGatewaySettings
from shared.crypto import KeyRing
from shared.events.borrowers import (
    DataAnswer,
    DataRequestAnswered,
    DataRequested,
    DataRequestKind,
    open_answer,
)
from shared.events.catalog import DATA_REQUESTED, LOAN_CLOSED
from shared.events.envelope import Envelope
from shared.events.models import ClosureReason, LoanClosed
from shared.events.topics import Topic
from shared.personal_data import debt_owed
from tests.harness import eventually
from tests.integration.agency_gateway.stack import GatewayStack
from tests.integration.agency_gateway.test_borrower_limits import Announced
from tests.integration.agency_gateway.test_disputes import INTAKE, gone
from tests.integration.agency_gateway.test_retention import found_anywhere, stored_case
from tests.support.factories import EMAIL, NAME, PHONE


def request(loan: Announced, kind: DataRequestKind, request_id: str) -> DataRequested:
    now = datetime.now(UTC)
    return DataRequested(
        request_id=request_id,
        loan_id=loan.loan_id,
        borrower_ref=loan.borrower_ref,
        kind=kind,
        requested_at=now,
        due_by=now + timedelta(days=15),
    )


def answers(request_ids: set[str]) -> Callable[[list[Envelope]], bool]:
    def all_in(found: list[Envelope]) -> bool:
        return request_ids <= {e.data["request_id"] for e in found}

    return all_in


async def answered(
    stack: GatewayStack, loan: Announced, *request_ids: str
) -> dict[str, list[DataAnswer]]:
    """Every answer on the data-answers topic to each request, opened as intake opens them."""
    found = await stack.events(Topic.DATA_ANSWERS, loan.loan_id, answers(set(request_ids)))
    settings = stack.platform.runtime("agency_gateway").settings
    assert isinstance(settings, AgencyGatewaySettings)
    transit = KeyRing.from_secret(settings.transit_keys)
    opened: dict[str, list[DataAnswer]] = {}
    for envelope in found:
        assert envelope.tenantid == stack.lender_id
        data = DataRequestAnswered.model_validate(envelope.data)
        assert (data.service, data.answer, data.borrower_ref) == (
            "agency_gateway",
            None,
            loan.borrower_ref,
        )
        assert data.sealed_answer is not None
        assert NAME not in envelope.model_dump_json()
        answer = open_answer(transit, data.request_id, data.sealed_answer)
        opened.setdefault(data.request_id, []).append(answer)
    return opened


async def two_loans(stack: GatewayStack) -> tuple[Announced, Announced]:
    """A borrower's two loans, each placed and announced; the agency called about the first
    and recorded a promise; the second is closed (its placement recalled)."""
    borrower_id = f"B-{uuid4().hex[:12]}"
    owed = await Announced(stack, borrower_id).start()
    ended = await Announced(stack, borrower_id).start()
    assert owed.borrower_ref == ended.borrower_ref
    path = f"/v1/assignments/{owed.assignment['assignment_id']}"
    agency = stack.agency(owed.assignment["agency_id"])
    call = {
        "activity_id": f"ACT-{uuid4().hex[:8]}",
        "type": "call",
        "direction": "outbound",
        "outcome": "answered",
        "at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
    }
    note = call | {"activity_id": f"ACT-{uuid4().hex[:8]}", "type": "note", "text": "将于周五还款"}
    for body in (call, note):
        recorded = await stack.gateway.post(f"{path}/activities", json=body, headers=agency)
        assert recorded.status_code == 201, recorded.text
    promise = {
        "promise_id": f"PR-{uuid4().hex[:6]}",
        "amount": {"amount": "300.00", "currency": "CNY"},
        "due_date": "2026-12-20",
    }
    made = await stack.gateway.post(f"{path}/promises", json=promise, headers=agency)
    assert made.status_code == 201, made.text
    closed = LoanClosed(
        loan_id=ended.loan_id, reason=ClosureReason.SETTLED, closed_at=datetime.now(UTC)
    )
    await stack.publish(LOAN_CLOSED, ended.loan_id, closed, source=INTAKE)
    await eventually(lambda: gone(ended))
    return owed, ended


async def test_access_and_deletion_requests_are_answered_sealed_for_intake(
    stack: GatewayStack,
) -> None:
    owed, ended = await two_loans(stack)
    access = f"R-{uuid4().hex[:8]}"
    await stack.publish(
        DATA_REQUESTED, owed.loan_id, request(owed, DataRequestKind.ACCESS, access), INTAKE
    )
    [got] = (await answered(stack, owed, access))[access]

    held = {(item.category, item.value) for item in got.personal_data}
    for item in [("name", NAME), ("phone", PHONE), ("email", EMAIL), ("timezone", "Asia/Shanghai")]:
        assert item in held
    assert any(category == "promise_to_pay" for category, _ in held)
    shared = {(s.party_id, s.ended_at is None) for s in got.shared_with}
    assert shared == {(owed.assignment["agency_id"], True), (ended.assignment["agency_id"], False)}
    names = {s.party_id: s.name for s in got.shared_with}
    assert names[owed.assignment["agency_id"]] == owed.assignment["agency_id"].title()
    assert [(c.party, c.kind, c.outcome) for c in got.contacts] == [
        (f"agency:{owed.assignment['agency_id']}", "call", "answered")
    ]
    assert "周五" not in got.model_dump_json()  # no note's text
    before = await stored_case(stack.platform, ended.loan_id)
    assert before["contact_sealed"] is not None  # an access request erases nothing

    deletion = f"R-{uuid4().hex[:8]}"
    asked = await stack.publish(
        DATA_REQUESTED, owed.loan_id, request(owed, DataRequestKind.DELETION, deletion), INTAKE
    )
    await stack.send(Topic.LOANS, asked)  # redelivered: the same event again
    marker = f"R-{uuid4().hex[:8]}"  # answered after the redelivery (same partition, in order)
    await stack.publish(
        DATA_REQUESTED, owed.loan_id, request(owed, DataRequestKind.ACCESS, marker), INTAKE
    )
    found = await answered(stack, owed, deletion, marker)
    [deleted] = found[deletion]  # one answer to the request delivered twice
    items = {r.category: r for r in deleted.retention}
    erased = items[
        f"contact details (name, phone, e-mail), region and time zone: loan {ended.loan_id}"
    ]
    kept = items[
        f"contact details (name, phone, e-mail), region and time zone: loan {owed.loan_id}"
    ]
    assert (erased.erased, kept.erased, kept.legal_basis) == (True, False, debt_owed().legal_basis)
    records = items[
        f"placements, contacts, promises and payments (no content): loan {owed.loan_id}"
    ]
    assert records.erased is False
    assert records.legal_basis is not None
    assert "CN-08" in records.legal_basis
    assert records.kept_until is not None
    assert records.kept_until.year == datetime.now(UTC).year + 5

    after = await stored_case(stack.platform, ended.loan_id)
    assert (after["contact_sealed"], after["region"], after["borrower_zone"]) == (None, None, None)
    assert await found_anywhere(stack.platform, [before["contact_sealed"]["ct"]]) == []
    assert (await stored_case(stack.platform, owed.loan_id))["contact_sealed"] is not None
    [again] = found[marker]
    assert {i.category for i in again.personal_data if i.value == NAME} == {"name"}
    assert sum(1 for i in again.personal_data if i.category == "name") == 1  # the owed loan's


async def test_an_agency_sees_an_erased_borrower_as_erased_not_an_error(
    stack: GatewayStack,
) -> None:
    borrower_id = f"B-{uuid4().hex[:12]}"
    loan = await Announced(stack, borrower_id).start()
    await stack.sql(
        "UPDATE collection_cases SET contact_sealed = NULL, contact_erased_at = now() "
        "WHERE lender_id = :lender AND loan_id = :loan",
        lender=stack.lender_id,
        loan=loan.loan_id,
    )
    answer = await stack.gateway.get(
        f"/v1/assignments/{loan.assignment['assignment_id']}",
        headers=stack.agency(loan.assignment["agency_id"]),
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["borrower"], answer.json()["withheld_reason"]) == (
        None,
        "contact_erased",
    )
