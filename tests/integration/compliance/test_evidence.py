"""The evidence bundle on the whole platform: a loan reported through intake, its placement,
notices, contacts, a demand letter and its legal stage logged from Kafka; the bundle downloaded
by the lender and by auditors in scope (another lender's loan is a 404) verifies offline with
the log's key, and its statement is a PDF naming the loan."""

import base64
import io
import zipfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import orjson

from shared.auth import Role
from shared.events.catalog import (
    AGENCY_ACTIVITY_RECORDED,
    AGENCY_NOTICE_SENT,
    ASSIGNMENT_PLACED,
    LEGAL_STAGE_CHANGED,
    NOTIFICATION_EVENTS,
)
from shared.events.legal import DemandTerms, LegalStage, LegalStageChanged
from shared.events.money import Money
from shared.events.notifications import NotificationChanged, NotificationKind, NotificationStatus
from shared.vocabulary import Channel
from tests.harness import RunningPlatform, eventually
from tests.integration.compliance.events import activity, placed, publish
from tests.support.factories import new_loan_id, report
from tests.support.operator_cli import invoke

REF = "bref_evidence"
AT = datetime(2026, 11, 10, 10, tzinfo=UTC)
LEGAL = LEGAL_STAGE_CHANGED.name
SENT = NOTIFICATION_EVENTS[NotificationStatus.SENT].name
DELIVERED = NOTIFICATION_EVENTS[NotificationStatus.DELIVERED].name


def stage(loan_id: str, to: LegalStage, was: LegalStage | None, at: datetime) -> LegalStageChanged:
    demand = None
    if to is LegalStage.DEMAND_SENT:
        demand = DemandTerms(
            amount=Money(amount=Decimal("1250.00"), currency="CNY"),
            respond_by=date(2026, 12, 1),
            agency_id="agency-a",
            agency_name="agency-a Recoveries",
        )
    return LegalStageChanged(
        escalation_id=f"E-{loan_id}",
        assignment_id=f"A-{loan_id}-agency-a",
        loan_id=loan_id,
        borrower_ref=REF,
        agency_id="agency-a",
        stage=to,
        previous=was,
        reported_by="lender",
        changed_at=at,
        demand=demand,
    )


def notice(loan_id: str, kind: NotificationKind, status: NotificationStatus, at: datetime) -> Any:
    return NotificationChanged(
        notification_id=uuid4(),
        loan_id=loan_id,
        borrower_ref=REF,
        kind=kind,
        step=1,
        channel=Channel.EMAIL,
        template=f"{kind.value}-v1",
        locale="zh-CN",
        policy_id="default",
        policy_version="1",
        pack_version="cn-2026.1",
        status=status,
        at=at,
        due_at=at,
        provider="smtp",
    )


async def log_history(platform: RunningPlatform, lender: str, loan_id: str) -> None:
    runtime = platform.runtime("compliance")
    await publish(runtime, ASSIGNMENT_PLACED, lender, loan_id, placed(loan_id, REF, "agency-a"))
    await publish(
        runtime,
        AGENCY_NOTICE_SENT,
        lender,
        loan_id,
        notice(loan_id, NotificationKind.AGENCY_NOTICE, NotificationStatus.SENT, AT),
    )
    await publish(
        runtime,
        AGENCY_ACTIVITY_RECORDED,
        lender,
        loan_id,
        activity(loan_id, REF, "agency-a", AT + timedelta(days=1)),
    )
    moves = [
        (LegalStage.GRANTED, None),
        (LegalStage.DEMAND_SENT, LegalStage.GRANTED),
        (LegalStage.FILED, LegalStage.DEMAND_SENT),
    ]
    for day, (to, was) in enumerate(moves, start=2):
        await publish(
            runtime,
            LEGAL_STAGE_CHANGED,
            lender,
            loan_id,
            stage(loan_id, to, was, AT + timedelta(days=day)),
        )
        if to is LegalStage.DEMAND_SENT:
            for status in (NotificationStatus.SENT, NotificationStatus.DELIVERED):
                await publish(
                    runtime,
                    NOTIFICATION_EVENTS[status],
                    lender,
                    loan_id,
                    notice(
                        loan_id, NotificationKind.DEMAND_LETTER, status, AT + timedelta(days=day)
                    ),
                )


async def timeline(
    platform: RunningPlatform, loan_id: str, types: set[str], at_least: int = 9
) -> Any:
    response = await platform.clients["compliance"].get(
        f"/v1/loans/{loan_id}/timeline", headers=platform.as_auditor()
    )
    if response.status_code != 200:
        return None
    entries = response.json()["entries"]
    return (
        entries
        if types <= {entry["type"] for entry in entries} and len(entries) >= at_least
        else None
    )


async def evidence(
    platform: RunningPlatform, loan_id: str, headers: dict[str, str], **params: Any
) -> Any:
    return await platform.clients["compliance"].get(
        f"/v1/loans/{loan_id}/evidence", headers=headers, params=params
    )


async def test_the_bundle_downloads_for_the_lender_and_auditors_and_verifies_offline(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    lender = platform.credentials.lender["id"]
    loan_id = new_loan_id()
    posted = await platform.clients["intake"].post(
        "/v1/overdue-loans",
        json=report(loan_id),
        headers={**platform.as_lender(), "Idempotency-Key": str(uuid4())},
    )
    assert posted.status_code == 202, posted.text
    await log_history(platform, lender, loan_id)
    wanted = {"collections.loan.overdue-reported", LEGAL, SENT, DELIVERED, AGENCY_NOTICE_SENT.name}

    async def every_stage_logged() -> Any:
        entries = await timeline(platform, loan_id, wanted)
        return entries if entries and [e["type"] for e in entries].count(LEGAL) >= 3 else None

    entries = await eventually(every_stage_logged, within=60)

    # the timeline shows the legal stage's moves and the demand letter's notices
    stages = [e["entry"]["data"]["stage"] for e in entries if e["type"] == LEGAL]
    assert stages == ["granted", "demand_sent", "filed"]
    # (the platform's running notifier schedules its own letters on demand_sent too)
    demand = [e for e in entries if e["entry"]["data"].get("kind") == "demand_letter"]
    assert {SENT, DELIVERED} <= {e["type"] for e in demand}

    as_lender = await evidence(platform, loan_id, platform.as_lender())
    assert as_lender.status_code == 200, as_lender.text
    assert as_lender.headers["content-type"] == "application/zip"
    assert as_lender.headers["content-disposition"] == (
        f'attachment; filename="evidence-{loan_id}.zip"'
    )
    with zipfile.ZipFile(io.BytesIO(as_lender.content)) as bundle:
        assert bundle.namelist() == [
            "statement.pdf",
            "entries.jsonl",
            "checkpoint",
            "proofs.json",
            "public-key",
            "VERIFY.md",
        ]
        lines = [orjson.loads(line) for line in bundle.read("entries.jsonl").splitlines()]
        pdf = bundle.read("statement.pdf")
        proofs = orjson.loads(bundle.read("proofs.json"))
    # the loan's entries at the bundle's checkpoint (a judging round may append a violation
    # after the timeline above was read, before the bundle's checkpoint)
    now = await timeline(platform, loan_id, set(), at_least=0)
    at_checkpoint = [e for e in now if e["leaf_index"] < proofs["tree_size"]]
    assert [e["leaf_index"] for e in entries] == [e["leaf_index"] for e in at_checkpoint][
        : len(entries)
    ]
    assert [line["leaf_index"] for line in lines] == [e["leaf_index"] for e in at_checkpoint]
    assert [line["canonical"] for line in lines] == [e["canonical"] for e in at_checkpoint]
    assert len(proofs["proofs"]) == len(lines)
    assert pdf.startswith(b"%PDF-")
    assert f"Statement of loan {loan_id}".encode() in pdf

    key = await platform.clients["compliance"].get(
        "/v1/audit/public-key", headers=platform.as_auditor()
    )
    key_file = tmp_path / "key.txt"
    key_file.write_text(key.json()["verifier_key"])
    pem_file = tmp_path / "key.pem"
    pem_file.write_text(key.json()["pem"])
    path = tmp_path / "evidence.zip"
    path.write_bytes(as_lender.content)
    for key_given in (key_file, pem_file):
        checked = invoke("audit", "verify-bundle", str(path), "--public-key", str(key_given))
        assert (checked.code, checked.out) == (0, "valid\n"), checked.out

    as_auditor = await evidence(platform, loan_id, platform.as_auditor())
    assert as_auditor.status_code == 200, as_auditor.text
    path.write_bytes(as_auditor.content)
    checked = invoke("audit", "verify-bundle", str(path), "--public-key", str(key_file))
    assert checked.code == 0, checked.out
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(path) as whole, zipfile.ZipFile(tampered, "w") as changed:
        for name in whole.namelist():
            data = whole.read(name)
            if name == "entries.jsonl":  # the first entry's canonical bytes, changed
                first, *rest = data.splitlines()
                line = orjson.loads(first)
                canonical = base64.b64decode(line["canonical"]).replace(b"}", b',"x":1}', 1)
                line["canonical"] = base64.b64encode(canonical).decode()
                data = b"\n".join([orjson.dumps(line), *rest]) + b"\n"
            changed.writestr(name, data)
    refused = invoke("audit", "verify-bundle", str(tampered), "--public-key", str(key_file))
    assert refused.code == 1
    assert refused.out.startswith("invalid: ")
    of_all = platform.as_auditor_of_every_lender()
    assert (await evidence(platform, loan_id, of_all, lender_id=lender)).status_code == 200
    unnamed = await evidence(platform, loan_id, of_all)
    assert unnamed.status_code == 422
    assert unnamed.json()["errors"][0]["field"] == "query.lender_id"


async def test_another_lender_gets_a_404_for_the_loan(platform: RunningPlatform) -> None:
    lender = platform.credentials.lender["id"]
    loan_id = new_loan_id()
    await log_history(platform, lender, loan_id)
    await eventually(lambda: timeline(platform, loan_id, {LEGAL}, 8), within=60)
    other = await platform.issue(Role.LENDER, f"lender-ev-{uuid4().hex[:8]}", "evidence test")
    as_other = {"Authorization": f"Bearer {other.api_key}"}

    assert (await evidence(platform, loan_id, as_other)).status_code == 404
    named = await evidence(platform, loan_id, as_other, lender_id=lender)
    assert named.status_code == 404
    assert (await evidence(platform, loan_id, platform.as_lender())).status_code == 200
    assert (await evidence(platform, new_loan_id(), platform.as_lender())).status_code == 404
