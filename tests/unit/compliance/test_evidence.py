"""The evidence bundle on fakes: exactly its six parts, the loan's entries alone with a proof
each at the signed checkpoint's size, the statement a PDF naming the loan, its notices and its
legal stage; and the offline verifier against the bundle whole and tampered in each part."""

import base64
import io
import zipfile
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.compliance.adapters.statement_pdf import render_statement
from services.compliance.application.errors import LoanNotFoundError
from services.compliance.application.evidence import EvidenceBundles, pack
from services.compliance.application.judge import Judge
from services.compliance.application.log_writer import LogWriter
from services.compliance.cli import verify_bundle
from services.compliance.domain.evidence import PARTS, BundleError, LoggedEntry, check_bundle
from services.compliance.domain.statement import Statement, statement
from shared.tlog.note import Signer
from tests.support.operator_cli import invoke
from tests.unit.compliance.fakes import CountingSigner, FakeAuditReads, FixedClock, entry
from tests.unit.compliance.test_judgement import PACKS

LOAN = "L-EVIDENCE-1"
DEMAND = {
    "amount": {"amount": "1200.00", "currency": "CNY"},
    "respond_by": "2026-12-20",
    "agency_name": "Agency A",
}


async def logged(reads: FakeAuditReads) -> None:
    """A loan's history, another loan's, and its borrower's opt-out (which names no loan)."""
    await reads.log.append(
        [
            entry(
                "collections.loan.overdue-reported",
                loan_id=LOAN,
                borrower={"ref": "bref-ev"},
                amount_overdue={"amount": "1200.00", "currency": "CNY"},
                days_past_due=95,
            ),
            entry("collections.loan.overdue-reported", loan_id="L-OTHER", borrower={"ref": "b2"}),
            entry(
                "collections.assignment.placed",
                loan_id=LOAN,
                borrower_ref="bref-ev",
                agency_id="agency-a",
            ),
            entry(
                "collections.notification.agency-notice-sent",
                loan_id=LOAN,
                borrower_ref="bref-ev",
                kind="agency_notice",
                channel="sms",
            ),
            entry(
                "collections.agency.activity-recorded",
                loan_id=LOAN,
                borrower_ref="bref-ev",
                agency_id="agency-a",
                type="call",
                outcome="no_answer",
            ),
            entry(
                "collections.assignment.legal-stage-changed",
                loan_id=LOAN,
                borrower_ref="bref-ev",
                stage="demand_sent",
                previous="granted",
                demand=DEMAND,
            ),
            entry(
                "collections.notification.delivered",
                loan_id=LOAN,
                borrower_ref="bref-ev",
                kind="demand_letter",
                channel="email",
                status="delivered",
            ),
            entry("collections.borrower.opt-out-recorded", borrower_ref="bref-ev", channel="sms"),
        ]
    )


async def bundle_of(loan: str = LOAN) -> tuple[bytes, CountingSigner]:
    reads = FakeAuditReads()
    await logged(reads)
    signer = CountingSigner()
    writer = LogWriter(signer, Judge(PACKS), FixedClock())
    return await EvidenceBundles(writer, render_statement).bundle(reads, "lender-1", loan), signer


def unzip(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return {name: opened.read(name) for name in opened.namelist()}


def lines(parts: dict[str, bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in parts["entries.jsonl"].splitlines()]


async def test_the_bundle_holds_the_loans_entries_each_with_a_proof_at_the_signed_size() -> None:
    archive, signer = await bundle_of()
    parts = unzip(archive)

    assert list(parts) == list(PARTS)
    rows = lines(parts)
    # the loan's entries and its borrower's opt-out, never the other loan's (leaf 1)
    assert [row["leaf_index"] for row in rows] == [0, 2, 3, 4, 5, 6, 7]
    assert rows[4]["entry"]["type"] == "collections.assignment.legal-stage-changed"
    proofs = orjson.loads(parts["proofs.json"])
    assert proofs["tree_size"] == 8
    assert [p["leaf_index"] for p in proofs["proofs"]] == [0, 2, 3, 4, 5, 6, 7]
    assert parts["checkpoint"].decode().startswith(f"{signer.name}\n8\n")
    key_line, pem = parts["public-key"].decode().split("\n", 1)
    assert key_line == str(signer.verifier)
    assert pem == signer.verifier.pem()
    assert LOAN in parts["VERIFY.md"].decode()
    assert "collections audit verify-bundle" in parts["VERIFY.md"].decode()
    assert parts["statement.pdf"].startswith(b"%PDF-")
    assert f"Statement of loan {LOAN}".encode() in parts["statement.pdf"]
    assert check_bundle(parts, str(signer.verifier)).entries == 7


async def test_a_loan_the_log_does_not_name_has_no_bundle() -> None:
    with pytest.raises(LoanNotFoundError):
        await bundle_of("L-NEVER")


async def test_the_statement_sorts_the_history_and_names_the_legal_stage() -> None:
    archive, _ = await bundle_of()
    rows = lines(unzip(archive))
    made: Statement = statement(
        LOAN,
        "lender-1",
        [LoggedEntry(r["leaf_index"], base64.b64decode(r["canonical"])) for r in rows],
        8,
        b"\x00" * 32,
    )
    by_key = {section.key: [line.leaf_index for line in found] for section, found in made.sections}
    assert by_key == {
        "debt": [0],
        "notices": [6],
        "placements": [2, 3],
        "contacts": [4],
        "violations": [],
        "legal": [5],
        "other": [7],
    }
    assert made.legal_stage == "demand_sent"
    assert made.legal_stage_zh == "已发催告函"
    legal = dict((s.key, found) for s, found in made.sections)["legal"][0]
    assert "demand: 1200.00 CNY by 2026-12-20 (Agency A)" in legal.details
    assert "kind: demand_letter" in dict((s.key, f) for s, f in made.sections)["notices"][0].details


def rewrite(parts: dict[str, bytes], name: str, change: Any) -> dict[str, bytes]:
    return {**parts, name: change(parts[name])}


def change_entry_byte(raw: bytes) -> bytes:
    rows = [orjson.loads(line) for line in raw.splitlines()]
    canonical = base64.b64decode(rows[1]["canonical"]).replace(b"agency-a", b"agency-b")
    rows[1]["canonical"] = base64.b64encode(canonical).decode()
    rows[1]["entry"] = orjson.loads(canonical)  # the tamperer keeps the line self-consistent
    rows[1].pop("leaf_hash")
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def change_readable_entry(raw: bytes) -> bytes:
    rows = [orjson.loads(line) for line in raw.splitlines()]
    rows[1]["entry"]["data"]["agency_id"] = "agency-b"
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def drop_entry(raw: bytes) -> bytes:
    kept = raw.splitlines()
    del kept[2]
    return b"".join(line + b"\n" for line in kept)


def change_proof_hash(raw: bytes) -> bytes:
    document = orjson.loads(raw)
    hashes = document["proofs"][0]["hashes"]
    hashes[0] = ("0" if hashes[0][0] != "0" else "1") + hashes[0][1:]
    return orjson.dumps(document)


def change_signature(raw: bytes) -> bytes:
    text, stamp = raw.decode().rsplit(" ", 1)
    decoded = bytearray(base64.b64decode(stamp))
    decoded[-1] ^= 1
    return f"{text} {base64.b64encode(bytes(decoded)).decode()}\n".encode()


def change_root(raw: bytes) -> bytes:
    origin, size, _root, rest = raw.decode().split("\n", 3)
    changed = base64.b64encode(bytes(32)).decode()
    return "\n".join((origin, size, changed, rest)).encode()


def change_proofs_root(raw: bytes) -> bytes:
    document = orjson.loads(raw)
    document["root_hash"] = "00" * 32
    return orjson.dumps(document)


@pytest.mark.parametrize(
    ("name", "change", "named"),
    [
        ("entries.jsonl", change_entry_byte, "entry 2: its proof does not reach the signed root"),
        ("entries.jsonl", change_readable_entry, "entry 2 was changed"),
        ("entries.jsonl", drop_entry, "entry 3 is missing"),
        ("proofs.json", change_proof_hash, "entry 0: its proof does not reach the signed root"),
        ("checkpoint", change_signature, "checkpoint: the note's signature does not verify"),
        ("checkpoint", change_root, "checkpoint: the note's signature does not verify"),
        ("proofs.json", change_proofs_root, "root hash is not the signed root hash"),
    ],
    ids=[
        "entry-byte",
        "readable-entry",
        "entry-removed",
        "proof-hash",
        "signature",
        "checkpoint-root",
        "proofs-root",
    ],
)
async def test_the_verifier_names_each_tampered_part(
    name: str, change: Any, named: str, tmp_path: Path
) -> None:
    archive, _ = await bundle_of()
    tampered = pack(rewrite(unzip(archive), name, change))
    path = tmp_path / "evidence.zip"
    path.write_bytes(tampered)

    checked = invoke("audit", "verify-bundle", str(path))
    assert checked.code == 1
    out = checked.out
    assert out.startswith("invalid: ")
    assert named in out


async def test_a_bundle_whole_is_valid_with_its_own_key_and_the_key_given(
    tmp_path: Path,
) -> None:
    archive, signer = await bundle_of()
    path = tmp_path / "evidence.zip"
    path.write_bytes(archive)
    vkey, pem = tmp_path / "key.txt", tmp_path / "key.pem"
    vkey.write_text(f"{signer.verifier}\n")
    pem.write_text(signer.verifier.pem())

    for extra in ([], ["--public-key", str(vkey)], ["--public-key", str(pem)]):
        checked = invoke("audit", "verify-bundle", str(path), *extra)
        assert (checked.code, checked.out) == (0, "valid\n")


async def test_a_key_given_that_is_not_the_bundles_fails(tmp_path: Path) -> None:
    archive, _ = await bundle_of()
    path = tmp_path / "evidence.zip"
    path.write_bytes(archive)
    other = tmp_path / "other.txt"
    other.write_text(str(Signer.generate("log.example/audit").verifier))

    checked = invoke("audit", "verify-bundle", str(path), "--public-key", str(other))
    assert checked.code == 1
    assert "is not the key given" in checked.out


async def test_a_checkpoint_resigned_by_another_key_fails_even_with_its_key_bundled() -> None:
    archive, signer = await bundle_of()
    parts = unzip(archive)
    forger = Signer.generate(signer.name)
    text = parts["checkpoint"].decode().split("\n\n")[0] + "\n"
    forged = {
        **parts,
        "checkpoint": forger.sign(text).encode(),
        "public-key": f"{forger.verifier}\n{forger.verifier.pem()}".encode(),
    }
    assert check_bundle(forged).entries == 7  # whole, but signed by the forger's key
    with pytest.raises(BundleError, match="is not the key given"):
        check_bundle(forged, str(signer.verifier))
    with pytest.raises(BundleError, match="has no signature by"):
        check_bundle({**forged, "public-key": parts["public-key"]})


async def test_a_bundle_with_a_part_missing_or_an_extra_file_fails(tmp_path: Path) -> None:
    archive, _ = await bundle_of()
    parts = unzip(archive)
    with pytest.raises(BundleError, match=r"lacks proofs\.json"):
        check_bundle({k: v for k, v in parts.items() if k != "proofs.json"})
    path = tmp_path / "evidence.zip"
    with zipfile.ZipFile(path, "w") as extended:
        for name, data in parts.items():
            extended.writestr(name, data)
        extended.writestr("notes.txt", b"x")
    with pytest.raises(BundleError, match=r"notes\.txt"):
        verify_bundle.verify_bundle(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(BundleError, match="not a readable zip"):
        verify_bundle.verify_bundle(path)
