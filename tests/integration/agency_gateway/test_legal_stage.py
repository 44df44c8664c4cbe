"""The legal stage on real Kafka and PostgreSQL: a granted escalation starts it, the lender
moves it through demand_sent to filed (each change an event on the assignments topic, in
order), the agency may not report it under the default policy, a threat in a note is refused,
the contact check refuses the agency once the claim is filed, the lender's placement view
shows the stage and its history, and a loan handed back is not placed again. Time is moved
through the stored rows (the notice's time), never through the API."""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy import select, text

from services.agency_gateway.adapters.legal import NOTE, LegalNotes
from services.agency_gateway.adapters.tables import legal_stage_changes
from services.agency_gateway.wiring import MIGRATIONS
from shared.crypto import KeyRing
from shared.db.engine import create_engine
from shared.db.migrations import upgrade_to_head
from shared.db.reseal import ResealJob, kid_counts, reseal
from shared.events.topics import Topic
from tests.infrastructure import TestInfrastructure
from tests.integration.agency_gateway.stack import GatewayStack
from tests.integration.agency_gateway.test_commitments import placed, validation_over
from tests.integration.agency_gateway.test_handoff import noon_tomorrow

CHANGED = "collections.assignment.legal-stage-changed"


async def granted(stack: GatewayStack) -> tuple[str, dict[str, Any], str, str]:
    """A placed loan whose escalation the lender approved and was granted."""
    loan_id, assignment, path = await placed(stack)
    await validation_over(stack, assignment)
    answer = await stack.gateway.post(
        f"/v1/loans/{loan_id}/escalations",
        json={"approve": True},
        headers=stack.platform.as_lender(),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["granted"] is True, answer.text
    return loan_id, assignment, path, answer.json()["escalation_id"]


async def test_the_lender_moves_the_stage_and_the_agency_stops_after_filing(
    stack: GatewayStack,
) -> None:
    loan_id, assignment, path, escalation_id = await granted(stack)
    agency = stack.agency(assignment["agency_id"])
    lender = stack.platform.as_lender()
    stage_path = f"/v1/loans/{loan_id}/legal-stage"

    too_far = await stack.gateway.post(stage_path, json={"stage": "filed"}, headers=lender)
    assert too_far.status_code == 409
    assert "at granted" in too_far.json()["detail"]
    assert "demand_sent" in too_far.json()["detail"]
    by_agency = await stack.gateway.post(
        f"{path}/legal-stage", json={"stage": "demand_sent"}, headers=agency
    )
    assert by_agency.status_code == 403
    assert by_agency.headers["content-type"].startswith("application/problem+json")
    threat = await stack.gateway.post(
        stage_path, json={"stage": "demand_sent", "note": "pay or face jail"}, headers=lender
    )
    assert threat.status_code == 422
    assert threat.json()["errors"][0]["field"] == "body.note"

    note = "demand letter sent by registered post"
    demand = {"stage": "demand_sent", "note": note, "respond_by_days": 20}
    keyed = {**lender, "Idempotency-Key": "move-1"}
    sent = await stack.gateway.post(stage_path, json=demand, headers=keyed)
    assert sent.status_code == 200, sent.text
    assert sent.json()["stage"] == "demand_sent"
    again = await stack.gateway.post(stage_path, json=demand, headers=keyed)
    assert again.status_code == 200
    assert again.json() == sent.json()
    check = await stack.gateway.post(
        f"{path}/contact-check",
        json={"channel": "sms", "at": noon_tomorrow().isoformat()},
        headers=agency,
    )
    assert "LEGAL-STAGE" not in check.json()["rules"]  # agencies still speak after the demand

    filed = await stack.gateway.post(stage_path, json={"stage": "filed"}, headers=lender)
    assert filed.status_code == 200, filed.text
    check = await stack.gateway.post(
        f"{path}/contact-check",
        json={"channel": "sms", "at": noon_tomorrow().isoformat()},
        headers=agency,
    )
    assert check.json()["allowed"] is False
    assert check.json()["rules"] == ["LEGAL-STAGE"]
    assert "filed" in check.json()["explanation"]

    events = await stack.events(
        Topic.ASSIGNMENTS, loan_id, lambda found: len([e for e in found if e.type == CHANGED]) >= 3
    )
    changes = [e for e in events if e.type == CHANGED]
    assert [(e.data["stage"], e.data["previous"]) for e in changes] == [
        ("granted", None),
        ("demand_sent", "granted"),
        ("filed", "demand_sent"),
    ]
    assert {e.data["escalation_id"] for e in changes} == {escalation_id}
    terms = changes[1].data["demand"]
    assert terms["agency_id"] == assignment["agency_id"]
    assert date.fromisoformat(terms["respond_by"]) >= date.today() + timedelta(days=19)
    assert terms["amount"]["currency"] == "CNY"
    assert all(note not in e.model_dump_json() for e in changes)  # the note stays sealed

    view = await stack.placement(loan_id)
    assert view is not None
    stage = view["legal_stage"]
    assert (stage["stage"], stage["escalation_id"]) == ("filed", escalation_id)
    assert [(h["stage"], h["reported_by"]) for h in stage["history"]] == [
        ("granted", "lender"),
        ("demand_sent", "lender"),
        ("filed", "lender"),
    ]

    runtime = stack.platform.runtime("agency_gateway")
    async with runtime.sessions() as session:
        notes = (
            await session.execute(
                text(
                    "SELECT note_sealed::text FROM legal_stage_changes "
                    "WHERE loan_id = :loan AND note_sealed IS NOT NULL"
                ),
                {"loan": loan_id},
            )
        ).scalars()
        stored = list(notes)
    assert len(stored) == 1
    assert note not in stored[0]  # sealed at rest

    given_back = await stack.gateway.post(f"{path}/return", json={}, headers=agency)
    assert given_back.status_code == 200, given_back.text
    left = await stack.settled(loan_id, "excluded")  # not placed again while in court
    assert left["note"] == "legal_stage:filed"
    assert left["current"] is None


async def test_a_loan_without_a_granted_escalation_has_no_stage(stack: GatewayStack) -> None:
    loan_id, _assignment, _path = await placed(stack)
    answer = await stack.gateway.post(
        f"/v1/loans/{loan_id}/legal-stage",
        json={"stage": "demand_sent"},
        headers=stack.platform.as_lender(),
    )
    assert answer.status_code == 409
    assert answer.json()["title"] == "No legal stage"
    view = await stack.placement(loan_id)
    assert view is not None
    assert view["legal_stage"] is None


async def test_reseal_moves_the_stage_notes_to_the_new_key(
    infrastructure: TestInfrastructure,
) -> None:
    """Key rotation: the reseal command's job for the notes re-seals each under the first data
    key, bound to its loan and change, still readable."""
    database = f"legal_{uuid4().hex[:10]}"
    await infrastructure.create_database(database)
    url = infrastructure.postgres_url(database)
    await upgrade_to_head(MIGRATIONS, url)
    engine = create_engine(url, pool_size=1)
    k1, k2 = KeyRing.generate_spec("k1"), KeyRing.generate_spec("k2")
    old, rotated = LegalNotes(KeyRing.parse(k1)), LegalNotes(KeyRing.parse(f"{k2},{k1}"))
    row: dict[str, Any] = {
        "change_id": "LS-1",
        "lender_id": "lender-a",
        "loan_id": "L-1",
        "seq": 1,
        "escalation_id": "E-1",
        "stage": "demand_sent",
        "previous": "granted",
        "reported_by": "lender",
        "at": datetime.now(UTC),
    }
    try:
        async with engine.begin() as connection:
            await connection.execute(
                legal_stage_changes.insert(), [row | {"note_sealed": old.seal("posted", row)}]
            )
        assert await kid_counts(engine, NOTE) == {"k1": 1}
        done = await reseal(engine, ResealJob(NOTE, rotated.ring))
        assert (done.resealed, done.left) == (1, 0)
        assert await kid_counts(engine, NOTE) == {"k2": 1}
        async with engine.connect() as connection:
            stored = dict((await connection.execute(select(legal_stage_changes))).one()._mapping)
        assert rotated.open(stored) == "posted"
    finally:
        await engine.dispose()
