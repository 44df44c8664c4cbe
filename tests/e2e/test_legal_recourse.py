"""Legal recourse as a lender lives it, on the whole platform as processes: a loan placed long
enough ago (time moved through stored rows, never the contract) is escalated with the lender's
approval, the demand goes out by e-mail with its PDF and by SMS and reaches the local providers,
the stage moves to filed and the agency stops; the evidence bundle downloads and the offline
verifier says it is valid against the log's public key."""

import base64
import io
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.e2e.process_platform import process_platform
from tests.e2e.test_borrower_journey import SETTINGS, Journey
from tests.harness import eventually
from tests.infrastructure import TestInfrastructure

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
async def journey(
    infrastructure: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Journey]:
    logs = tmp_path_factory.mktemp("legal-recourse")
    async with process_platform(infrastructure, logs, SETTINGS) as platform:
        yield Journey(platform, logs)


async def sql(url: str, statement: str, **params: Any) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement), params)
    finally:
        await engine.dispose()


async def test_a_lender_escalates_sends_the_demand_files_and_hands_over_verified_evidence(
    journey: Journey, tmp_path: Path
) -> None:
    platform = journey.platform
    lender = platform.lender()
    borrower = await journey.report(days=50)
    await eventually(lambda: journey.may_call(borrower.loan_id), within=90, interval=0.5)

    # A month passes: the CN-09 notice (and the day's messages) lie 31 days back.
    await sql(
        platform.database_urls["agency_gateway"],
        "UPDATE assignments SET notice_sent_at = now() - interval '31 days' WHERE loan_id = :l",
        l=borrower.loan_id,
    )
    await sql(
        platform.database_urls["notifier"],
        "UPDATE contacts SET at = at - interval '31 days' WHERE loan_id = :l",
        l=borrower.loan_id,
    )
    async with httpx.AsyncClient() as client:
        granted = await client.post(
            journey.gateway(f"/v1/loans/{borrower.loan_id}/escalations"),
            json={"approve": True},
            headers=lender,
        )
        assert granted.status_code == 200, granted.text
        assert granted.json()["granted"] is True, granted.text
        demand = await client.post(
            journey.gateway(f"/v1/loans/{borrower.loan_id}/legal-stage"),
            json={"stage": "demand_sent"},
            headers=lender,
        )
        assert demand.status_code == 200, demand.text

    async def letter() -> dict[str, Any] | None:
        async with httpx.AsyncClient() as client:
            got = await client.get(
                f"{platform.providers_url}/v1/messages", params={"to": borrower.email}
            )
        for message in got.json():
            for attached in message.get("attachments") or []:
                if attached["content_type"] == "application/pdf":
                    found: dict[str, Any] = attached
                    return found
        return None

    pdf = await eventually(letter, within=60, interval=0.5)
    assert base64.b64decode(pdf["data_base64"]).startswith(b"%PDF-")

    async with httpx.AsyncClient() as client:
        texts = await client.get(
            f"{platform.providers_url}/v1/messages", params={"to": borrower.phone}
        )
        assert any("/b/" in m["body"] for m in texts.json())
        filed = await client.post(
            journey.gateway(f"/v1/loans/{borrower.loan_id}/legal-stage"),
            json={"stage": "filed"},
            headers=lender,
        )
        assert filed.status_code == 200, filed.text
        placement = await client.get(
            journey.gateway(f"/v1/loans/{borrower.loan_id}/placement"), headers=lender
        )
    stages = [h["stage"] for h in placement.json()["legal_stage"]["history"]]
    assert stages == ["granted", "demand_sent", "filed"]

    compliance = platform.first("compliance").url

    async def logged() -> httpx.Response | None:
        async with httpx.AsyncClient() as client:
            bundle = await client.get(
                f"{compliance}/v1/loans/{borrower.loan_id}/evidence", headers=lender
            )
        if bundle.status_code != 200:
            return None
        with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
            entries = archive.read("entries.jsonl").decode()
        wanted = ("legal-stage-changed", "demand_letter")
        return bundle if all(word in entries for word in wanted) and "filed" in entries else None

    bundle = await eventually(logged, within=60, interval=0.5)
    assert bundle.headers["content-type"] == "application/zip"
    path = tmp_path / "evidence.zip"
    path.write_bytes(bundle.content)
    with zipfile.ZipFile(path) as archive:
        assert archive.read("statement.pdf").startswith(b"%PDF-")
        statement = PdfReader(io.BytesIO(archive.read("statement.pdf")))
    words = "".join(page.extract_text() or "" for page in statement.pages)
    words += str(statement.metadata.title if statement.metadata else "")
    assert borrower.loan_id in words
    # The verifier key, obtained separately from the log itself (as a court would).
    auditor = {"Authorization": f"Bearer {platform.credentials.auditor['api_key']}"}
    async with httpx.AsyncClient() as client:
        served = await client.get(f"{compliance}/v1/audit/public-key", headers=auditor)
    assert served.status_code == 200, served.text
    key_file = tmp_path / "log.pub"
    key_file.write_text(served.json()["verifier_key"])
    verified = subprocess.run(  # noqa: ASYNC221, S603 (a short offline check of our own zip)
        [
            sys.executable,
            "-m",
            "deploy.cli",
            "audit",
            "verify-bundle",
            str(path),
            "--public-key",
            str(key_file),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.strip() == "valid"
    other = await journey.report(days=50)
    async with httpx.AsyncClient() as client:
        unknown = await client.get(
            f"{compliance}/v1/loans/{other.loan_id}-nope/evidence", headers=lender
        )
    assert unknown.status_code == 404
