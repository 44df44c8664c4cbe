"""The auditor's API on the whole platform: lender-scoped reads, proofs that verify against
the signed checkpoint, filters, cursors and exports."""

import base64
import csv
import io
from datetime import UTC, datetime
from functools import partial
from typing import Any
from uuid import uuid4

import httpx
import orjson
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from services.compliance.cli.verify import verify_log
from shared.auth import Role
from shared.tlog.merkle import leaf_hash, verify_consistency, verify_inclusion
from shared.tlog.note import Verifier, open_checkpoint
from tests.harness import RunningPlatform, eventually
from tests.integration.compliance.events import publish_contacts
from tests.support.factories import EMAIL, NAME, PHONE, new_loan_id, report


def bearer(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "Idempotency-Key": str(uuid4())}


async def get(platform: RunningPlatform, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = await platform.clients["compliance"].get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def timeline_of(
    platform: RunningPlatform, loan_id: str, lender_id: str, at_least: int
) -> list[dict[str, Any]] | None:
    response = await platform.clients["compliance"].get(
        f"/v1/loans/{loan_id}/timeline",
        params={"lender_id": lender_id},
        headers=platform.as_auditor_of_every_lender(),
    )
    if response.status_code != 200:
        return None
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries if len(entries) >= at_least else None


async def test_two_lenders_loans_of_one_id_stay_apart(platform: RunningPlatform) -> None:
    run = uuid4().hex[:8]
    lender_a = platform.credentials.lender
    lender_b = await platform.issue(Role.LENDER, f"lender-cmp-{run}", "compliance test")
    auditor_b = await platform.issue(Role.AUDITOR, lender_b.tenant, "compliance test")
    loan_id = new_loan_id()
    for key in (lender_a["api_key"], lender_b.api_key):
        posted = await platform.clients["intake"].post(
            "/v1/overdue-loans", json=report(loan_id), headers=bearer(key)
        )
        assert posted.status_code == 202, posted.text

    for lender in (lender_a["id"], lender_b.tenant):
        entries = await eventually(partial(timeline_of, platform, loan_id, lender, 1), within=30)
        assert {entry["lender_id"] for entry in entries} == {lender}

    as_b = bearer(auditor_b.api_key)
    own = await get(platform, f"/v1/loans/{loan_id}/timeline", as_b)
    assert own["lender_id"] == lender_b.tenant
    assert {entry["lender_id"] for entry in own["entries"]} == {lender_b.tenant}
    other = await platform.clients["compliance"].get(
        f"/v1/loans/{loan_id}/timeline", params={"lender_id": lender_a["id"]}, headers=as_b
    )
    assert other.status_code == 404
    listed = await get(platform, "/v1/audit/entries", as_b, loan_id=loan_id)
    assert {entry["lender_id"] for entry in listed["entries"]} == {lender_b.tenant}
    everything = await get(platform, "/v1/audit/entries", as_b, limit=1000)
    assert {entry["lender_id"] for entry in everything["entries"]} == {lender_b.tenant}
    for text in (NAME, PHONE, EMAIL):
        assert text not in orjson.dumps(own).decode()
        assert text.encode() not in base64.b64decode(own["entries"][0]["canonical"])


async def test_served_proofs_verify_against_the_signed_checkpoint(
    platform: RunningPlatform,
) -> None:
    auditor = platform.as_auditor()
    lender = platform.credentials.lender["id"]
    loan_id = new_loan_id()
    runtime = platform.runtime("compliance")
    key = await get(platform, "/v1/audit/public-key", auditor)
    verifier = Verifier.parse(key["verifier_key"])
    assert load_pem_public_key(key["pem"].encode()) == verifier.public_key
    assert key["key_id"] == f"{verifier.key_id:08x}"

    await publish_contacts(runtime, lender, loan_id, "bref_proofs", 4)
    await eventually(lambda: timeline_of(platform, loan_id, lender, 5), within=30)
    first = await get(platform, "/v1/audit/checkpoint", auditor)
    signed = open_checkpoint(first["note"], verifier)
    assert (signed.size, signed.root_hash.hex()) == (first["tree_size"], first["root_hash"])
    assert first["key_id"] == key["key_id"]

    await publish_contacts(runtime, lender, loan_id, "bref_proofs", 3)
    entries = await eventually(lambda: timeline_of(platform, loan_id, lender, 9), within=30)
    second = await get(platform, "/v1/audit/checkpoint", auditor)
    grown = open_checkpoint(second["note"], verifier)
    assert grown.size > signed.size

    consistency = await get(
        platform, "/v1/audit/proofs/consistency", auditor, first=signed.size, second=grown.size
    )
    proof = [bytes.fromhex(h) for h in consistency["hashes"]]
    verify_consistency(signed.size, grown.size, proof, signed.root_hash, grown.root_hash)

    for entry in entries:
        leaf = leaf_hash(base64.b64decode(entry["canonical"]))
        assert leaf.hex() == entry["leaf_hash"]
        assert orjson.loads(base64.b64decode(entry["canonical"])) == entry["entry"]
        inclusion = await get(
            platform,
            "/v1/audit/proofs/inclusion",
            auditor,
            leaf_index=entry["leaf_index"],
            tree_size=grown.size,
        )
        hashes = [bytes.fromhex(h) for h in inclusion["hashes"]]
        verify_inclusion(entry["leaf_index"], grown.size, leaf, hashes, grown.root_hash)

    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.apps["compliance"]),
        base_url="http://compliance",
        headers=auditor,
    )
    async with client:
        verified = await verify_log(client, verifier, first["note"], samples=5)
    assert verified.entries_proven == 5


async def test_entries_filter_by_agency_type_and_time_and_page_by_cursor(
    platform: RunningPlatform,
) -> None:
    auditor = platform.as_auditor()
    lender = platform.credentials.lender["id"]
    loan_id = new_loan_id()
    started = datetime.now(UTC)
    await publish_contacts(platform.runtime("compliance"), lender, loan_id, "bref_filters", 6)
    everything = await eventually(lambda: timeline_of(platform, loan_id, lender, 7), within=30)

    by_agency = await get(
        platform,
        "/v1/audit/entries",
        auditor,
        lender_id=lender,
        loan_id=loan_id,
        agency_id="agency-a",
    )
    assert len(by_agency["entries"]) == 4  # the placement and three calls
    calls = await get(
        platform,
        "/v1/audit/entries",
        auditor,
        lender_id=lender,
        loan_id=loan_id,
        type="collections.agency.activity-recorded",
    )
    assert len(calls["entries"]) == 3
    for window, expected in (({"from": started.isoformat()}, 7), ({"to": started.isoformat()}, 0)):
        timed = await get(
            platform, "/v1/audit/entries", auditor, lender_id=lender, loan_id=loan_id, **window
        )
        assert len(timed["entries"]) == expected, window  # by the events' own time

    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"lender_id": lender, "loan_id": loan_id, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await get(platform, "/v1/audit/entries", auditor, **params)
        seen += [entry["leaf_index"] for entry in page["entries"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [entry["leaf_index"] for entry in everything]


async def test_the_export_streams_with_its_checkpoint(platform: RunningPlatform) -> None:
    run = uuid4().hex[:8]
    lender = f"lender-export-{run}"
    auditor = await platform.issue(Role.AUDITOR, lender, "export test")
    loan_id = new_loan_id()
    await publish_contacts(platform.runtime("compliance"), lender, loan_id, "bref_export", 2)
    await eventually(lambda: timeline_of(platform, loan_id, lender, 3), within=30)

    client = platform.clients["compliance"]
    jsonl = await client.get(
        "/v1/audit/export", params={"format": "jsonl"}, headers=bearer(auditor.api_key)
    )
    assert jsonl.status_code == 200
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    head, *lines = [orjson.loads(line) for line in jsonl.content.splitlines()]
    assert head["checkpoint"]["tree_size"] == int(jsonl.headers["audit-tree-size"])
    assert (
        base64.b64decode(jsonl.headers["audit-checkpoint"]).decode() == head["checkpoint"]["note"]
    )
    assert [line["lender_id"] for line in lines] == [lender] * 3
    assert all(line["leaf_index"] < head["checkpoint"]["tree_size"] for line in lines)

    exported = await client.get(
        "/v1/audit/export", params={"format": "csv"}, headers=bearer(auditor.api_key)
    )
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [row["leaf_index"] for row in rows] == [str(line["leaf_index"]) for line in lines]
    assert rows[0]["leaf_hash"] == lines[0]["leaf_hash"]


async def test_bad_parameters_are_422_naming_the_field(platform: RunningPlatform) -> None:
    auditor = platform.as_auditor_of_every_lender()  # which names the lender of a loan
    client = platform.clients["compliance"]
    size = (await get(platform, "/v1/audit/checkpoint", auditor))["tree_size"]
    cases = [
        ("/v1/audit/proofs/inclusion", {"leaf_index": 5, "tree_size": 5}, "query.leaf_index"),
        (
            "/v1/audit/proofs/inclusion",
            {"leaf_index": 0, "tree_size": size + 10},
            "query.tree_size",
        ),
        ("/v1/audit/proofs/inclusion", {"leaf_index": -1, "tree_size": 1}, "query.leaf_index"),
        ("/v1/audit/proofs/consistency", {"first": 3, "second": 2}, "query.first"),
        ("/v1/audit/proofs/consistency", {"first": 1, "second": size + 10}, "query.second"),
        ("/v1/audit/entries", {"loan_id": "L-1"}, "query.lender_id"),
        ("/v1/audit/entries", {"cursor": "abc"}, "query.cursor"),
        ("/v1/audit/entries", {"cursor": "\u00b2"}, "query.cursor"),  # isdigit() says yes
        ("/v1/violations", {"cursor": "\u00b2"}, "query.cursor"),
        ("/v1/violations", {"cursor": "\u0663"}, "query.cursor"),  # ARABIC-INDIC DIGIT THREE
        ("/v1/audit/entries", {"cursor": "9" * 20}, "query.cursor"),  # beyond a bigint
        ("/v1/audit/entries", {"to": "0.5"}, "query.to"),  # not 1970-01-01T00:00:00.5Z
        ("/v1/violations", {"from": "0"}, "query.from"),
        ("/v1/reports/agencies", {"to": "1700000000"}, "query.to"),
        ("/v1/audit/entries", {"from": "2026-01-01T00:00:00"}, "query.from"),  # no offset
        ("/v1/audit/entries", {"from": "2026-01-01"}, "query.from"),
        ("/v1/audit/export", {"format": "xml"}, "query.format"),
    ]
    for path, params, field in cases:
        response = await client.get(path, params=params, headers=auditor)
        assert response.status_code == 422, (path, params, response.text)
        assert field in [error["field"] for error in response.json()["errors"]], response.text
