"""The borrower's side in the audit log, on real Kafka and PostgreSQL: a dispute, its outcome and
a data request (with every service's answer) are logged in the loan's timeline; no sealed value
or plaintext of the borrower enters any entry; the dispute-outcome notice sent under the
dispute's hold is no violation while a reminder under it is; compliance answers the data request
in the clear on collections.data-answers.v1; and the log still verifies (signed checkpoint,
consistency and inclusion proofs) after the other services erased the borrower's details."""

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx

from services.compliance.application.data_requests import answer_id
from services.compliance.cli.verify import verify_log
from shared.crypto import KeyRing, SealedValue
from shared.events.borrowers import (
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
    AGENCY_ACTIVITY_RECORDED,
    DATA_REQUEST_ANSWERED,
    DATA_REQUESTED,
    DISPUTE_OPENED,
    DISPUTE_RESOLVED,
    HOLD_LIFTED,
    HOLD_PLACED,
    LOAN_CLOSED,
    NOTIFICATION_EVENTS,
)
from shared.events.models import ClosureReason, HoldLifted, HoldPlaced, HoldReason, LoanClosed
from shared.events.notifications import NotificationKind, NotificationStatus
from shared.events.topics import Topic
from shared.runtime import ServiceRuntime
from shared.tlog.merkle import leaf_hash, verify_consistency, verify_inclusion
from shared.tlog.note import Verifier, open_checkpoint
from tests.harness import RunningPlatform, eventually
from tests.infrastructure import TestInfrastructure
from tests.integration.compliance.events import activity, publish, sent
from tests.integration.intake.support import read_topic
from tests.support.factories import EMAIL, NAME, PHONE, new_loan_id, report

OPENED, RESOLVED = DISPUTE_OPENED.name, DISPUTE_RESOLVED.name
REQUESTED, ANSWERED = DATA_REQUESTED.name, DATA_REQUEST_ANSWERED.name
VIOLATION = "collections.compliance.violation-found"
DAY = datetime(2026, 11, 3, tzinfo=UTC)  # hours below are UTC; Shanghai is 8 hours ahead
TRANSIT = KeyRing.parse(KeyRing.generate_spec("t1"))  # the other services' (never compliance's)


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


async def get(platform: RunningPlatform, path: str, **params: Any) -> Any:
    response = await platform.clients["compliance"].get(
        path, params=params, headers=platform.as_auditor()
    )
    assert response.status_code == 200, response.text
    return response.json()


async def reported(platform: RunningPlatform, loan_id: str) -> str:
    """Report the loan through intake (CN, sealed contact details); the borrower's pseudonym
    as the log holds it."""
    posted = await platform.clients["intake"].post(
        "/v1/overdue-loans",
        json=report(loan_id),
        headers={**platform.as_lender(), "Idempotency-Key": str(uuid4())},
    )
    assert posted.status_code == 202, posted.text
    lender = platform.credentials.lender["id"]

    async def borrower_ref() -> str | None:
        response = await platform.clients["compliance"].get(
            f"/v1/loans/{loan_id}/timeline",
            params={"lender_id": lender},
            headers=platform.as_auditor(),
        )
        if response.status_code != 200:
            return None
        ref: str = response.json()["entries"][0]["entry"]["data"]["borrower"]["ref"]
        return ref

    return await eventually(borrower_ref, within=30)


async def timeline(platform: RunningPlatform, loan_id: str) -> list[dict[str, Any]]:
    lender = platform.credentials.lender["id"]
    found: list[dict[str, Any]] = (
        await get(platform, f"/v1/loans/{loan_id}/timeline", lender_id=lender)
    )["entries"]
    return found


async def timeline_with(
    platform: RunningPlatform, loan_id: str, wanted: dict[str, int]
) -> list[dict[str, Any]] | None:
    """The loan's timeline once it holds at least ``wanted[type]`` entries of each type."""
    entries = await timeline(platform, loan_id)
    seen = [e["type"] for e in entries]
    return entries if all(seen.count(kind) >= n for kind, n in wanted.items()) else None


def sealed_answer_of(service: str, request_id: str, answer: DataAnswer) -> SealedValue:
    assert answer.service == service
    return seal_answer(TRANSIT, request_id, answer)


def answered(
    request: DataRequested, service: str, sealed: SealedValue | None = None
) -> DataRequestAnswered:
    return DataRequestAnswered(
        request_id=request.request_id,
        loan_id=request.loan_id,
        borrower_ref=request.borrower_ref,
        kind=request.kind,
        service=service,
        answered_at=datetime.now(UTC),
        sealed_answer=sealed,
    )


def no_personal_data(entries: list[dict[str, Any]], sealed: list[SealedValue]) -> None:
    """No plaintext of the borrower, no sealed value (nor its ciphertext) in any entry."""
    secrets = [NAME, PHONE, EMAIL] + [s.ct for s in sealed]
    for e in entries:
        canonical = base64.b64decode(e["canonical"])
        for secret in secrets:
            assert secret.encode() not in canonical, (e["type"], secret)
        assert b"sealed_answer" not in canonical
        _no_sealed_dict(e["entry"])


def _no_sealed_dict(value: Any) -> None:
    if isinstance(value, dict):
        assert value.keys() != SealedValue.model_fields.keys(), value
        for item in value.values():
            _no_sealed_dict(item)
    elif isinstance(value, list):
        for item in value:
            _no_sealed_dict(item)


async def verified(platform: RunningPlatform, entries: list[dict[str, Any]]) -> int:
    """Check the signed checkpoint, then every entry's leaf and inclusion proof in it; the
    verified tree size."""
    key = await get(platform, "/v1/audit/public-key")
    verifier = Verifier.parse(key["verifier_key"])
    checkpoint = await get(platform, "/v1/audit/checkpoint")
    head = open_checkpoint(checkpoint["note"], verifier)
    for e in entries:
        leaf = leaf_hash(base64.b64decode(e["canonical"]))
        assert leaf.hex() == e["leaf_hash"]
        proof = await get(
            platform, "/v1/audit/proofs/inclusion", leaf_index=e["leaf_index"], tree_size=head.size
        )
        hashes = [bytes.fromhex(h) for h in proof["hashes"]]
        verify_inclusion(e["leaf_index"], head.size, leaf, hashes, head.root_hash)
    return head.size


async def publish_dispute_story(
    runtime: ServiceRuntime, lender: str, loan_id: str, ref: str
) -> tuple[str, str]:
    """The borrower disputes (intake: the dispute, then its hold), the lender's reminder goes
    out under the hold, then the lender's answer (a dispute-outcome notice), the resolution and
    the hold lifted. The ids of the reminder and of the outcome notice."""
    hold_id = "dispute:D-1"
    opened = DisputeOpened(
        loan_id=loan_id,
        dispute_id="D-1",
        borrower_ref=ref,
        reason=DisputeReason.AMOUNT_WRONG,
        hold_id=hold_id,
        opened_at=at(3),
    )
    await publish(runtime, DISPUTE_OPENED, lender, loan_id, opened)
    hold = HoldPlaced(loan_id=loan_id, hold_id=hold_id, reason=HoldReason.DISPUTE, placed_at=at(3))
    await publish(runtime, HOLD_PLACED, lender, loan_id, hold)
    reminder = sent(loan_id, ref, at(4))  # 12:00 in Shanghai, under the hold
    await publish(runtime, NOTIFICATION_EVENTS[NotificationStatus.SENT], lender, loan_id, reminder)
    outcome = sent(loan_id, ref, at(5)).model_copy(
        update={"kind": NotificationKind.DISPUTE_OUTCOME, "step": None}
    )
    await publish(runtime, NOTIFICATION_EVENTS[NotificationStatus.SENT], lender, loan_id, outcome)
    resolved = DisputeResolved(
        loan_id=loan_id,
        dispute_id="D-1",
        borrower_ref=ref,
        source=DisputeSource.BORROWER,
        outcome=DisputeOutcome.REJECTED,
        hold_id=hold_id,
        resolved_at=at(5),
    )
    await publish(runtime, DISPUTE_RESOLVED, lender, loan_id, resolved)
    lifted = HoldLifted(loan_id=loan_id, hold_id=hold_id, lifted_at=at(5))
    await publish(runtime, HOLD_LIFTED, lender, loan_id, lifted)
    return f"notifier:{reminder.notification_id}", f"notifier:{outcome.notification_id}"


def data_request(loan_id: str, ref: str, kind: DataRequestKind) -> DataRequested:
    now = datetime.now(UTC)
    return DataRequested(
        request_id=f"R-{uuid4().hex[:10]}",
        loan_id=loan_id,
        borrower_ref=ref,
        kind=kind,
        requested_at=now,
        due_by=now + timedelta(days=15),
    )


async def compliance_answer(
    platform: RunningPlatform,
    infrastructure: TestInfrastructure,
    request: DataRequested,
    lender: str,
) -> DataRequestAnswered:
    """Compliance's answer as published on collections.data-answers.v1, once."""
    answer_event = answer_id(lender, request.request_id)
    published = await read_topic(
        infrastructure.kafka_bootstrap,
        platform.runtime("compliance").topic(Topic.DATA_ANSWERS),
        {answer_event},
    )
    copies = published[answer_event]
    assert len(copies) == 1  # answered once, though the request was published again
    return DATA_REQUEST_ANSWERED.parse(copies[0].envelope)


async def test_disputes_data_requests_and_answers_are_logged_without_personal_data(
    platform: RunningPlatform, infrastructure: TestInfrastructure
) -> None:
    lender = platform.credentials.lender["id"]
    runtime = platform.runtime("compliance")
    loan_id = new_loan_id()
    ref = await reported(platform, loan_id)
    reminder_id, outcome_id = await publish_dispute_story(runtime, lender, loan_id, ref)

    request = data_request(loan_id, ref, DataRequestKind.ACCESS)
    await publish(runtime, DATA_REQUESTED, lender, loan_id, request)
    await publish(runtime, DATA_REQUESTED, lender, loan_id, request)  # published again
    secret = DataAnswer(
        service="notifier",
        personal_data=[PersonalDataItem(category="phone", value=PHONE, purpose="reminders")],
    )
    sealed = sealed_answer_of("notifier", request.request_id, secret)
    notifier_answer = answered(request, "notifier", sealed)
    await publish(runtime, DATA_REQUEST_ANSWERED, lender, loan_id, notifier_answer)

    entries = await eventually(
        lambda: timeline_with(
            platform, loan_id, {OPENED: 1, RESOLVED: 1, REQUESTED: 2, ANSWERED: 2, VIOLATION: 1}
        ),
        within=60,
    )
    notified = outcome_id.removeprefix("notifier:")

    async def outcome_logged() -> list[dict[str, Any]] | None:
        """The outcome notice (judged in the transaction that logged it), and the answers of
        the notifier (the test's, sealed) and of compliance (in the clear), which the running
        services' own answers may precede."""
        found = await timeline(platform, loan_id)
        ids = {e["entry"]["data"].get("notification_id") for e in found}
        answered = {
            (e["entry"]["data"]["service"], e["entry"]["data"]["sealed"])
            for e in found
            if e["type"] == ANSWERED
        }
        wanted = {("notifier", True), ("compliance", False)}
        return found if notified in ids and wanted <= answered else None

    entries = await eventually(outcome_logged, within=30)
    logged_answers = [e["entry"]["data"] for e in entries if e["type"] == ANSWERED]
    # The test's notifier answer, compliance's own, and those of the platform's running
    # notifier and gateway: sealed exactly when the service holds personal data.
    assert {("notifier", True), ("compliance", False)} <= {
        (a["service"], a["sealed"]) for a in logged_answers
    }
    assert all(a["sealed"] is (a["service"] != "compliance") for a in logged_answers)
    for a in logged_answers:
        assert (a["request_id"], a["kind"], a["borrower_ref"]) == (
            request.request_id,
            "access",
            ref,
        )
        assert "answer" not in a
    ours = next(a for a in logged_answers if a["service"] == "compliance")
    assert ours["counts"]["personal_data"] == 0
    assert ours["counts"]["contacts"] >= 2
    opened = next(e for e in entries if e["type"] == OPENED)["entry"]["data"]
    assert (opened["dispute_id"], opened["hold_id"], opened["reason"]) == (
        "D-1",
        "dispute:D-1",
        "amount_wrong",
    )
    no_personal_data(entries, [sealed])

    violations = (
        await get(platform, "/v1/violations", lender_id=lender, loan_id=loan_id, status="all")
    )["violations"]
    assert ("POL-01", reminder_id) in {(v["rule_id"], v["contact_id"]) for v in violations}
    assert outcome_id not in {v["contact_id"] for v in violations}

    ours_published = await compliance_answer(platform, infrastructure, request, lender)
    assert ours_published.sealed_answer is None
    assert ours_published.answer is not None
    given = ours_published.answer
    assert given.service == "compliance"
    assert given.personal_data == []
    kinds = [(c.party, c.kind) for c in given.contacts]
    assert ("lender", "dispute_outcome") in kinds
    assert ("lender", "reminder") in kinds
    breached = [c for c in given.contacts if "POL-01" in c.outcome]
    assert [c.at for c in breached] == [at(4)]

    assert await verified(platform, entries) >= max(e["leaf_index"] for e in entries) + 1


async def test_the_log_verifies_after_the_borrowers_details_are_erased(
    platform: RunningPlatform, infrastructure: TestInfrastructure
) -> None:
    lender = platform.credentials.lender["id"]
    runtime = platform.runtime("compliance")
    loan_id = new_loan_id()
    ref = await reported(platform, loan_id)
    for hours in (1, 2):
        call = activity(loan_id, ref, "agency-e", at(hours))
        await publish(runtime, AGENCY_ACTIVITY_RECORDED, lender, loan_id, call)
    before = await eventually(
        lambda: timeline_with(platform, loan_id, {AGENCY_ACTIVITY_RECORDED.name: 2}),
        within=30,
    )
    key = await get(platform, "/v1/audit/public-key")
    verifier = Verifier.parse(key["verifier_key"])
    saved = await get(platform, "/v1/audit/checkpoint")
    saved_head = open_checkpoint(saved["note"], verifier)
    await verified(platform, before)

    # The loan ends, the borrower asks for erasure; the notifier and the gateway erase the
    # contact details and answer (sealed), as they would publish it.
    closed = LoanClosed(loan_id=loan_id, reason=ClosureReason.SETTLED, closed_at=at(6))
    await publish(runtime, LOAN_CLOSED, lender, loan_id, closed)
    request = data_request(loan_id, ref, DataRequestKind.DELETION)
    await publish(runtime, DATA_REQUESTED, lender, loan_id, request)
    sealed_values = []
    for service in ("notifier", "agency_gateway"):
        erased = DataAnswer(
            service=service,
            retention=[
                RetentionItem(category="phone", erased=True),
                RetentionItem(category="email", erased=True),
            ],
        )
        sealed = sealed_answer_of(service, request.request_id, erased)
        sealed_values.append(sealed)
        await publish(
            runtime, DATA_REQUEST_ANSWERED, lender, loan_id, answered(request, service, sealed)
        )

    async def every_service_answered() -> list[dict[str, Any]] | None:
        entries = await timeline(platform, loan_id)
        answers = [e for e in entries if e["type"] == ANSWERED]
        services = {e["entry"]["data"]["service"] for e in answers}
        return entries if services == {"notifier", "agency_gateway", "compliance"} else None

    after = await eventually(every_service_answered, within=60)
    logged = [e["entry"]["data"] for e in after if e["type"] == ANSWERED]
    ours = next(a for a in logged if a["service"] == "compliance")
    assert ours["counts"]["erased"] == 0  # compliance erases nothing: it holds no details
    no_personal_data(after, sealed_values)

    # The old entries are unchanged and still proven, in the grown tree and the saved one.
    old = {e["leaf_index"]: e for e in before}
    for e in after:
        if e["leaf_index"] in old:
            assert e["canonical"] == old[e["leaf_index"]]["canonical"]
    grown_size = await verified(platform, before)
    assert grown_size > saved_head.size
    checkpoint = await get(platform, "/v1/audit/checkpoint")
    grown = open_checkpoint(checkpoint["note"], verifier)
    consistency = await get(
        platform, "/v1/audit/proofs/consistency", first=saved_head.size, second=grown.size
    )
    proof = [bytes.fromhex(h) for h in consistency["hashes"]]
    verify_consistency(saved_head.size, grown.size, proof, saved_head.root_hash, grown.root_hash)

    deletion = await compliance_answer(platform, infrastructure, request, lender)
    assert deletion.answer is not None
    (kept,) = deletion.answer.retention
    assert kept.erased is False
    assert kept.legal_basis is not None
    assert "CN-08" in kept.legal_basis
    assert kept.kept_until is not None
    assert kept.kept_until.year == at(2).year + 5

    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.apps["compliance"]),
        base_url="http://compliance",
        headers=platform.as_auditor(),
    )
    async with client:
        report_ = await verify_log(client, verifier, saved["note"], samples=5)
    assert report_.entries_proven == 5
