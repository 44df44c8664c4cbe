"""The borrower's side at intake on real PostgreSQL and Kafka: disputes filed from a link hold
the loan (their events in order on the loan's stream), the lender resolves them (the
borrower's and an agency's), intake learns who holds the loan and which notices were sent from
the other services' topics, a data request becomes ready once every service answered on the
data-answers topic, and revoked or tampered links open nothing."""

import copy
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import text

from services.intake.application.borrower_desk import BorrowerDesk, LinkRefusedError
from services.intake.settings import IntakeSettings
from services.intake.wiring import borrower_desk
from shared.borrower_links import BorrowerLinks, LinkClaims
from shared.crypto import SealedValue
from shared.events.assignments import AssignmentEnded, AssignmentPlaced, DisputeRaised
from shared.events.borrowers import (
    DATA_HOLDERS,
    DataAnswer,
    DataRequestAnswered,
    DataRequestKind,
    DisputeReason,
    PersonalDataItem,
    seal_answer,
)
from shared.events.catalog import (
    ASSIGNMENT_PLACED,
    ASSIGNMENT_RETURNED,
    DATA_REQUEST_ANSWERED,
    DISPUTE_RAISED,
    NOTIFICATION_EVENTS,
    EventType,
)
from shared.events.envelope import Envelope, message_key
from shared.events.models import BorrowerContact
from shared.events.notifications import NotificationChanged, NotificationKind, NotificationStatus
from shared.events.topics import Topic
from shared.runtime import ServiceRuntime
from shared.vocabulary import Channel
from tests.harness import RunningPlatform, eventually
from tests.integration.intake.support import (
    IntakeTables,
    assert_problem,
    intake_sealing,
    read_topic,
)
from tests.support.factories import VALID_REPORT, new_loan_id, report

LOANS = "collections.loan."
NOW = datetime(2026, 11, 30, 8, tzinfo=UTC)


@pytest.fixture
def runtime(platform: RunningPlatform) -> ServiceRuntime:
    return platform.runtime("intake")


@pytest.fixture
def settings(runtime: ServiceRuntime) -> IntakeSettings:
    assert isinstance(runtime.settings, IntakeSettings)
    return runtime.settings


@pytest.fixture
def desk(settings: IntakeSettings, runtime: ServiceRuntime) -> BorrowerDesk:
    return borrower_desk(settings, runtime)


@pytest.fixture
def links(settings: IntakeSettings) -> BorrowerLinks:
    return settings.borrower_links()


@pytest.fixture
async def loan(intake: httpx.AsyncClient, lender: dict[str, str]) -> str:
    """A fresh loan of a borrower of its own (a deletion elsewhere never touches it)."""
    loan_id = new_loan_id()
    borrower = copy.deepcopy(VALID_REPORT["borrower"])
    borrower["id"] = f"B-{uuid4().hex[:12]}"
    response = await intake.post(
        "/v1/overdue-loans", json=report(loan_id, borrower=borrower), headers=lender
    )
    assert response.status_code == 202, response.text
    return loan_id


async def loan_view(
    intake: httpx.AsyncClient, lender: dict[str, str], loan_id: str
) -> dict[str, Any]:
    response = await intake.get(f"/v1/loans/{loan_id}", headers=lender)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def claims(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    loan: str,
    desk: BorrowerDesk,
    links: BorrowerLinks,
) -> LinkClaims:
    ref = (await loan_view(intake, lender, loan))["borrower_ref"]
    return await desk.open_link(links.mint(lender_id, loan, ref))


async def publish(
    runtime: ServiceRuntime, event_type: EventType, lender: str, data: BaseModel
) -> Envelope:
    subject = str(getattr(data, "loan_id"))  # noqa: B009 - every event here is a loan's
    envelope = event_type.envelope(source="/tests", subject=subject, tenant=lender, data=data)
    await runtime.producer.send_and_wait(
        runtime.topic(Topic(event_type.topic)), envelope.to_bytes(), key=envelope.key.encode()
    )
    return envelope


async def stream(tables: IntakeTables, lender_id: str, loan_id: str) -> list[Envelope]:
    """The loan's events in the outbox, in the order intake committed them."""
    payloads = await tables.outbox_payloads(message_key(lender_id, loan_id))
    return [Envelope.model_validate_json(p) for p in payloads]


async def on_topic(bootstrap: str, topic: str, envelopes: list[Envelope]) -> list[str]:
    """The types of ``envelopes`` as the topic holds them (one partition, in offset order)."""
    found = await read_topic(bootstrap, topic, {e.id for e in envelopes})
    copies = [copy for copies in found.values() for copy in copies]
    assert len(copies) == len(envelopes)
    assert len({c.partition for c in copies}) == 1
    return [c.envelope.type for c in sorted(copies, key=lambda c: c.offset)]


Resolve = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def resolve(intake: httpx.AsyncClient, lender: dict[str, str]) -> Resolve:
    async def post(
        loan_id: str, dispute_id: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await intake.post(
            f"/v1/loans/{loan_id}/disputes/{dispute_id}/resolution",
            json=body,
            headers={**lender, **(headers or {})},
        )

    return post


async def test_a_borrowers_dispute_holds_the_loan_its_events_in_order(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    loan: str,
    claims: LinkClaims,
    desk: BorrowerDesk,
    tables: IntakeTables,
    bootstrap: str,
    loan_events_topic: str,
) -> None:
    dispute = await desk.open_dispute(claims, DisputeReason.ALREADY_PAID, "paid on 2 Nov")

    events = await stream(tables, lender_id, loan)
    expected = [
        f"{LOANS}overdue-reported",
        "collections.borrower.dispute-opened",
        f"{LOANS}hold-placed",
    ]
    assert [e.type for e in events] == expected
    assert await on_topic(bootstrap, loan_events_topic, events) == expected
    assert events[2].data["hold_id"] == f"dispute:{dispute.dispute_id}"
    view = await loan_view(intake, lender, loan)
    assert view["on_hold"]
    (shown,) = view["disputes"]
    assert (shown["dispute_id"], shown["status"], shown["source"], shown["reason"]) == (
        dispute.dispute_id,
        "open",
        "borrower",
        "already_paid",
    )
    assert shown["outcome"] is None
    assert (await desk.view(claims)).status == "on_hold"


async def test_a_rejected_dispute_lifts_the_hold(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    loan: str,
    claims: LinkClaims,
    desk: BorrowerDesk,
    tables: IntakeTables,
    bootstrap: str,
    loan_events_topic: str,
    resolve: Resolve,
) -> None:
    dispute = await desk.open_dispute(claims, DisputeReason.NOT_MINE, "")
    response = await resolve(loan, dispute.dispute_id, {"outcome": "rejected", "note": "signed"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["outcome"], body["source"]) == ("rejected", "rejected", "borrower")
    assert body["resolved_at"]
    events = (await stream(tables, lender_id, loan))[3:]
    expected = ["collections.loan.dispute-resolved", f"{LOANS}hold-lifted"]
    assert [e.type for e in events] == expected
    assert await on_topic(bootstrap, loan_events_topic, events) == expected
    assert events[1].data["hold_id"] == f"dispute:{dispute.dispute_id}"
    view = await loan_view(intake, lender, loan)
    assert not view["on_hold"]
    assert view["disputes"][0]["status"] == "rejected"


async def test_an_upheld_dispute_closes_the_loan(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    loan: str,
    claims: LinkClaims,
    desk: BorrowerDesk,
    tables: IntakeTables,
    resolve: Resolve,
) -> None:
    dispute = await desk.open_dispute(claims, DisputeReason.NOT_MINE, "")
    response = await resolve(loan, dispute.dispute_id, {"outcome": "upheld"})

    assert response.status_code == 200, response.text
    events = (await stream(tables, lender_id, loan))[3:]
    assert [e.type for e in events] == ["collections.loan.dispute-resolved", f"{LOANS}closed"]
    assert events[1].data["reason"] == "dispute_upheld"
    view = await loan_view(intake, lender, loan)
    assert (view["status"], view["closure_reason"]) == ("closed", "dispute_upheld")


async def test_an_upheld_dispute_with_a_corrected_amount_reports_it_anew(
    platform: RunningPlatform,
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    loan: str,
    claims: LinkClaims,
    desk: BorrowerDesk,
    tables: IntakeTables,
    bootstrap: str,
    loan_events_topic: str,
    resolve: Resolve,
) -> None:
    dispute = await desk.open_dispute(claims, DisputeReason.AMOUNT_WRONG, "it was 600")
    corrected = {"amount": "600.00", "currency": "CNY"}
    response = await resolve(
        loan, dispute.dispute_id, {"outcome": "upheld", "corrected_amount_overdue": corrected}
    )

    assert response.status_code == 200, response.text
    assert response.json()["corrected_amount_overdue"] == corrected
    events = (await stream(tables, lender_id, loan))[3:]
    expected = [
        "collections.loan.dispute-resolved",
        f"{LOANS}overdue-reported",
        f"{LOANS}hold-lifted",
    ]
    assert await on_topic(bootstrap, loan_events_topic, events) == expected
    resolution, report_event, _ = events
    assert resolution.data["corrected_amount"] == corrected
    assert report_event.data["amount_overdue"] == corrected
    borrower = report_event.data["borrower"]
    sealing = intake_sealing(platform.runtime("intake"))
    contact = BorrowerContact.model_validate_json(
        sealing.transit.open(
            SealedValue(**borrower["contact"]), associated_data=borrower["ref"].encode()
        )
    )
    assert contact.name == VALID_REPORT["borrower"]["name"]
    view = await loan_view(intake, lender, loan)
    assert (view["status"], view["on_hold"], view["amount_overdue"]) == (
        "delinquent",
        False,
        corrected,
    )


async def test_a_dispute_is_resolved_once_and_a_retry_with_its_key_replays(
    loan: str, claims: LinkClaims, desk: BorrowerDesk, resolve: Resolve
) -> None:
    dispute = await desk.open_dispute(claims, DisputeReason.OTHER, "")
    key = {"Idempotency-Key": uuid4().hex}
    first = await resolve(loan, dispute.dispute_id, {"outcome": "rejected"}, key)
    replayed = await resolve(loan, dispute.dispute_id, {"outcome": "rejected"}, key)
    again = await resolve(loan, dispute.dispute_id, {"outcome": "rejected"})

    assert first.status_code == 200, first.text
    assert (replayed.status_code, replayed.headers["Idempotent-Replayed"]) == (200, "true")
    assert replayed.json() == first.json()
    assert_problem(again, 409)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "maybe"}, "outcome"),
        ({}, "outcome"),
        (
            {"outcome": "rejected", "corrected_amount_overdue": {"amount": "1", "currency": "CNY"}},
            "corrected_amount_overdue",
        ),
        (
            {"outcome": "upheld", "corrected_amount_overdue": {"amount": 1.5, "currency": "CNY"}},
            "corrected_amount_overdue.amount",
        ),
        ({"outcome": "upheld", "note": "a\u202ebc"}, "note"),
        ({"outcome": "upheld", "extra": 1}, "extra"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_nothing_changes(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    loan: str,
    claims: LinkClaims,
    desk: BorrowerDesk,
    resolve: Resolve,
    body: dict[str, Any],
    field: str,
) -> None:
    dispute = await desk.open_dispute(claims, DisputeReason.OTHER, "")
    assert_problem(await resolve(loan, dispute.dispute_id, body), 422, field)
    assert (await loan_view(intake, lender, loan))["disputes"][0]["status"] == "open"


async def test_another_lenders_loan_or_an_unknown_dispute_is_a_404(
    intake: httpx.AsyncClient,
    as_lender_two: dict[str, str],
    loan: str,
    claims: LinkClaims,
    desk: BorrowerDesk,
    resolve: Resolve,
) -> None:
    dispute = await desk.open_dispute(claims, DisputeReason.OTHER, "")
    foreign = await intake.post(
        f"/v1/loans/{loan}/disputes/{dispute.dispute_id}/resolution",
        json={"outcome": "rejected"},
        headers=as_lender_two,
    )
    assert_problem(foreign, 404)
    assert_problem(await resolve(loan, "D-unknown", {"outcome": "rejected"}), 404)
    revoke = await intake.post(f"/v1/loans/{loan}/borrower-links/revocation", headers=as_lender_two)
    assert_problem(revoke, 404)


async def test_an_agency_dispute_is_recorded_and_its_resolution_lifts_the_agency_hold(
    runtime: ServiceRuntime,
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    loan: str,
    claims: LinkClaims,
    tables: IntakeTables,
    bootstrap: str,
    loan_events_topic: str,
    resolve: Resolve,
) -> None:
    dispute_id = f"AD-{uuid4().hex[:10]}"
    raised = DisputeRaised(
        dispute_id=dispute_id,
        assignment_id="A-1",
        loan_id=loan,
        borrower_ref=claims.borrower_ref,
        agency_id="agency-1",
        reason="the borrower says it was paid",
        raised_at=NOW,
    )
    await publish(runtime, DISPUTE_RAISED, lender_id, raised)

    async def recorded() -> dict[str, Any] | None:
        view = await loan_view(intake, lender, loan)
        return view if view["disputes"] else None

    view = await eventually(recorded)
    hold_id = f"agency-dispute:{dispute_id}"
    assert view["on_hold"]
    assert [h["hold_id"] for h in view["holds"]] == [hold_id]
    assert (view["disputes"][0]["source"], view["disputes"][0]["reason"]) == ("agency", "other")
    response = await resolve(loan, dispute_id, {"outcome": "rejected"})
    assert response.status_code == 200, response.text
    events = (await stream(tables, lender_id, loan))[1:]
    assert await on_topic(bootstrap, loan_events_topic, events) == [
        "collections.loan.dispute-resolved",
        f"{LOANS}hold-lifted",
    ]
    assert (events[0].data["source"], events[1].data["hold_id"]) == ("agency", hold_id)
    assert not (await loan_view(intake, lender, loan))["on_hold"]


async def test_the_agency_an_assignment_placed_holds_the_loan_until_it_is_returned(
    runtime: ServiceRuntime,
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    loan: str,
    claims: LinkClaims,
    desk: BorrowerDesk,
) -> None:
    assignment_id = f"A-{uuid4().hex[:10]}"
    placed = AssignmentPlaced(
        assignment_id=assignment_id,
        loan_id=loan,
        borrower_ref=claims.borrower_ref,
        agency_id="agency-nine",
        agency_name="Nine Recoveries",
        agency_phone="+861012345678",
        placed_at=NOW,
        policy_version="test",
        reason="test",
    )
    await publish(runtime, ASSIGNMENT_PLACED, lender_id, placed)

    async def held_by() -> dict[str, Any] | None:
        held: dict[str, Any] | None = (await loan_view(intake, lender, loan))["held_by"]
        return held

    held = await eventually(held_by)
    assert (held["agency_id"], held["name"], held["phone"]) == (
        "agency-nine",
        "Nine Recoveries",
        "+861012345678",
    )
    shown = (await desk.view(claims)).held_by
    assert shown is not None
    assert shown.name == "Nine Recoveries"
    returned = AssignmentEnded(
        assignment_id=assignment_id,
        loan_id=loan,
        borrower_ref=claims.borrower_ref,
        agency_id="agency-nine",
        ended_at=NOW,
        reason="returned",
    )
    await publish(runtime, ASSIGNMENT_RETURNED, lender_id, returned)

    async def released() -> bool:
        return (await loan_view(intake, lender, loan))["held_by"] is None

    await eventually(released)


async def test_notices_sent_are_shown_once_without_content(
    runtime: ServiceRuntime, lender_id: str, loan: str, claims: LinkClaims, desk: BorrowerDesk
) -> None:
    notification = NotificationChanged(
        notification_id=uuid4(),
        loan_id=loan,
        borrower_ref=claims.borrower_ref,
        kind=NotificationKind.REMINDER,
        step=1,
        channel=Channel.SMS,
        template="reminder_1",
        locale="zh-CN",
        policy_id="p",
        policy_version="1",
        pack_version=None,
        status=NotificationStatus.SENT,
        at=NOW,
        due_at=NOW,
    )
    sent = NOTIFICATION_EVENTS[NotificationStatus.SENT]
    envelope = await publish(runtime, sent, lender_id, notification)
    await runtime.producer.send_and_wait(  # the same event again: a redelivery
        runtime.topic(Topic.NOTIFICATIONS), envelope.to_bytes(), key=envelope.key.encode()
    )
    delivered = notification.model_copy(update={"status": NotificationStatus.DELIVERED})
    await publish(runtime, NOTIFICATION_EVENTS[NotificationStatus.DELIVERED], lender_id, delivered)

    async def shown() -> list[Any] | None:
        view = await desk.view(claims)
        return view.notices or None

    await eventually(shown)
    later = await desk.view(claims)
    assert [(n.channel, n.kind, n.at) for n in later.notices] == [(Channel.SMS, "reminder", NOW)]


@pytest.mark.parametrize(
    "from_the_test",
    [DATA_HOLDERS, ("notifier", "agency_gateway")],
    ids=["every-answer-published-here", "compliance-answers-itself"],
)
async def test_a_data_request_is_ready_once_every_service_answered_on_the_topic(
    from_the_test: tuple[str, ...],
    runtime: ServiceRuntime,
    lender_id: str,
    loan: str,
    claims: LinkClaims,
    desk: BorrowerDesk,
    tables: IntakeTables,
) -> None:
    request = await desk.request_data(claims, DataRequestKind.ACCESS)
    assert request.status == "pending"
    requested = (await stream(tables, lender_id, loan))[-1]
    assert (requested.type, requested.data["request_id"]) == (
        "collections.borrower.data-requested",
        request.request_id,
    )
    transit = intake_sealing(runtime).transit
    for service in from_the_test:
        answer = DataAnswer(
            service=service,
            personal_data=(
                []
                if service == "compliance"
                else [PersonalDataItem(category="phone", value="+8613800138000", purpose="x")]
            ),
        )
        answered = DataRequestAnswered(
            request_id=request.request_id,
            loan_id=loan,
            borrower_ref=claims.borrower_ref,
            kind=DataRequestKind.ACCESS,
            service=service,
            answered_at=NOW,
            sealed_answer=(
                None
                if service == "compliance"
                else seal_answer(transit, request.request_id, answer)
            ),
            answer=answer if service == "compliance" else None,
        )
        await publish(runtime, DATA_REQUEST_ANSWERED, lender_id, answered)

    async def ready() -> Any:
        found = await desk.data_request(claims, request.request_id)
        return found if found is not None and found.status == "ready" else None

    found = await eventually(ready)
    # each service's first answer counts: the services running here may answer on their own
    # (compliance does: "compliance-answers-itself" publishes no answer of compliance's)
    assert [a.service for a in found.answers] == ["intake", *DATA_HOLDERS]
    own = {item.category: item.value for item in found.answers[0].personal_data}
    assert own["name"] == VALID_REPORT["borrower"]["name"]
    async with tables.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT answer_sealed::text AS sealed FROM data_answers WHERE request_id = :r"),
            {"r": request.request_id},
        )
        sealed = [row.sealed for row in rows]
    assert len(sealed) == 4
    assert not any("+8613800138000" in s or VALID_REPORT["borrower"]["name"] in s for s in sealed)


async def test_a_revocation_refuses_the_links_issued_before_and_a_tampered_link_opens_nothing(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    loan: str,
    claims: LinkClaims,
    desk: BorrowerDesk,
    links: BorrowerLinks,
) -> None:
    token = links.mint(lender_id, loan, claims.borrower_ref)
    assert (await desk.open_link(token)).loan_id == loan
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    with pytest.raises(LinkRefusedError) as unknown:
        await desk.open_link(tampered)
    assert not unknown.value.gone

    response = await intake.post(
        f"/v1/loans/{loan}/borrower-links/revocation",
        headers={**lender, "Idempotency-Key": uuid4().hex},
    )

    assert response.status_code == 204, response.text
    assert response.content == b""
    with pytest.raises(LinkRefusedError) as revoked:
        await desk.open_link(token)
    assert revoked.value.gone


async def test_a_deletion_erases_the_contacts_of_ended_loans_and_keeps_the_loan_still_owed(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    desk: BorrowerDesk,
    links: BorrowerLinks,
    tables: IntakeTables,
) -> None:
    borrower = copy.deepcopy(VALID_REPORT["borrower"])
    borrower["id"] = f"B-{uuid4().hex[:12]}"
    owed, closed, recalled = (new_loan_id() for _ in range(3))
    for loan_id in (owed, closed, recalled):
        reported = await intake.post(
            "/v1/overdue-loans", json=report(loan_id, borrower=borrower), headers=lender
        )
        assert reported.status_code == 202, reported.text
    ref = (await loan_view(intake, lender, closed))["borrower_ref"]
    closed_claims = await desk.open_link(links.mint(lender_id, closed, ref))
    dispute = await desk.open_dispute(closed_claims, DisputeReason.OTHER, "free text, erased")
    closure = await intake.post(
        f"/v1/loans/{closed}/close", json={"reason": "settled"}, headers=lender
    )
    recall = await intake.post(f"/v1/loans/{recalled}/recall", json={}, headers=lender)
    assert (closure.status_code, recall.status_code) == (202, 202), (closure.text, recall.text)

    request = await desk.request_data(closed_claims, DataRequestKind.DELETION)

    async with tables.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT loan_id, contact_sealed IS NULL AS erased FROM loans"
                " WHERE lender_id = :l AND borrower_ref = :r"
            ),
            {"l": lender_id, "r": ref},
        )
        erased = {row.loan_id: row.erased for row in rows}
        details_erased = await connection.scalar(
            text(
                "SELECT details_sealed IS NULL FROM disputes"
                " WHERE lender_id = :l AND dispute_id = :d"
            ),
            {"l": lender_id, "d": dispute.dispute_id},
        )
    assert erased == {owed: False, closed: True, recalled: True}
    assert details_erased
    assert (await loan_view(intake, lender, closed))["status"] == "closed"  # the record stays
    assert request.kind is DataRequestKind.DELETION
