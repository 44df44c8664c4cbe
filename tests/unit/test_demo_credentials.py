"""The dev stack's ``credentials.json`` keeps its shape; the demo auditor audits the demo
lender only, and a file from when it audited every lender gets a new, scoped key."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deploy.devstack.platform import DEMO_LENDER, DemoCredentials, superseded_demo_auditors
from shared.auth import ALL_LENDERS, Role
from shared.auth.keys import hash_secret, split_api_key
from shared.auth.registry import CredentialRecord


def test_a_new_file_has_the_known_shape_and_an_auditor_of_the_demo_lender(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    made = DemoCredentials.load_or_create(path)
    written = json.loads(path.read_text())
    assert set(written) == {"lender", "agencies", "auditor"}
    assert written["auditor"]["id"] == written["lender"]["id"] == DEMO_LENDER
    assert DemoCredentials.load_or_create(path) == made
    assert [role for role, _ in made.grants()] == [
        Role.LENDER,
        Role.AGENCY,
        Role.AGENCY,
        Role.AUDITOR,
    ]


@pytest.mark.parametrize("old_id", ["auditor-demo", ALL_LENDERS])
def test_an_older_files_auditor_of_every_lender_gets_a_new_scoped_key(
    tmp_path: Path, old_id: str
) -> None:
    path = tmp_path / "credentials.json"
    old = DemoCredentials.generate()
    old.auditor.update(id=old_id)
    path.write_text(
        json.dumps({"lender": old.lender, "agencies": old.agencies, "auditor": old.auditor})
    )
    loaded = DemoCredentials.load_or_create(path)
    assert loaded.auditor["id"] == DEMO_LENDER
    assert loaded.auditor["api_key"] != old.auditor["api_key"]  # the old key was of every lender
    assert (loaded.lender, loaded.agencies) == (old.lender, old.agencies)
    assert json.loads(path.read_text())["auditor"] == loaded.auditor


def record(api_key: str, role: Role, tenant: str, label: str = "demo") -> CredentialRecord:
    parts = split_api_key(api_key)
    assert parts is not None
    return CredentialRecord(
        key_id=parts[0],
        role=role,
        tenant=tenant,
        secret_sha256=hash_secret(api_key).hex(),
        label=label,
        issued_at=datetime.now(UTC),
    )


def test_an_older_stacks_demo_auditor_key_is_the_one_to_revoke() -> None:
    old, current = DemoCredentials.generate(), DemoCredentials.generate()
    registry = [
        record(old.auditor["api_key"], Role.AUDITOR, ALL_LENDERS),
        record(current.auditor["api_key"], Role.AUDITOR, DEMO_LENDER),
        record(current.lender["api_key"], Role.LENDER, DEMO_LENDER),
        record(old.lender["api_key"], Role.AUDITOR, ALL_LENDERS, label="an operator's"),
    ]
    assert superseded_demo_auditors(registry, current) == [registry[0].key_id]
