"""The dev stack's ``credentials.json`` keeps its shape; the demo auditor audits every lender."""

import json
from pathlib import Path

from deploy.devstack.platform import DemoCredentials
from shared.auth import ALL_LENDERS, Role


def test_a_new_file_has_the_known_shape_and_an_auditor_of_every_lender(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    made = DemoCredentials.load_or_create(path)
    written = json.loads(path.read_text())
    assert set(written) == {"lender", "agencies", "auditor"}
    assert written["auditor"]["id"] == ALL_LENDERS
    assert DemoCredentials.load_or_create(path) == made
    assert [role for role, _ in made.grants()] == [
        Role.LENDER,
        Role.AGENCY,
        Role.AGENCY,
        Role.AUDITOR,
    ]


def test_a_file_from_before_the_registry_gets_an_auditor_of_every_lender(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    old = DemoCredentials.generate()
    old.auditor["id"] = "auditor-demo"
    path.write_text(
        json.dumps({"lender": old.lender, "agencies": old.agencies, "auditor": old.auditor})
    )
    loaded = DemoCredentials.load_or_create(path)
    assert loaded.auditor == {"id": ALL_LENDERS, "api_key": old.auditor["api_key"]}
    assert json.loads(path.read_text())["auditor"]["id"] == ALL_LENDERS
