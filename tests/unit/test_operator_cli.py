"""The ``collections`` command: every group is there, and the agencies' commands become the
gateway's operator API requests (the commands on the stack: tests/integration/test_operator_cli.py
and the tests named in the README's "Operating it")."""

import pytest

from deploy.cli.agencies import put_request
from tests.support.operator_cli import invoke

GROUPS = ["migrate", "keys", "agencies", "dead-letters", "outbox", "reseal", "audit"]
SUBCOMMANDS = {
    "keys": ["issue", "list", "revoke"],
    "agencies": ["put", "list", "show"],
    "dead-letters": ["list", "show", "replay"],
    "outbox": ["parked", "release"],
    "audit": ["verify", "verify-bundle"],
}


def test_help_lists_every_group() -> None:
    shown = invoke("--help")
    assert shown.code == 0
    for group in GROUPS:
        assert f" {group} " in shown.out, group


@pytest.mark.parametrize("group", sorted(SUBCOMMANDS))
def test_each_group_lists_its_commands(group: str) -> None:
    shown = invoke(group, "--help")
    assert shown.code == 0
    for command in SUBCOMMANDS[group]:
        assert f" {command} " in shown.out, command


def test_reseal_offers_every_service_that_seals_and_only_those() -> None:
    shown = invoke("reseal", "--help")
    assert "intake|notifier|agency_gateway" in shown.out
    assert invoke("reseal", "compliance").code == 2  # it seals nothing


def test_put_sends_the_agencys_terms() -> None:
    method, path, body = put_request(
        "agency-east",
        name="East",
        jurisdictions=["CN", "US"],
        regions=["CN-ZJ"],
        capacity=2000,
        share=2,
        inactive=True,
    )
    assert (method, path) == ("PUT", "/v1/agencies/agency-east")
    assert body == {
        "name": "East",
        "phone": None,
        "jurisdictions": ["CN", "US"],
        "regions": ["CN-ZJ"],
        "capacity": 2000,
        "share": 2,
        "webhook_url": None,
        "active": False,
    }


def test_release_needs_ids_or_all() -> None:
    refused = invoke("outbox", "release", "intake")
    assert refused.code == 2
    assert "--all" in refused.err


def test_the_names_spelled_for_a_fast_start_are_the_platforms() -> None:
    from deploy.cli import reseal, services
    from deploy.devstack.platform import SERVICES
    from shared.db import reseal as kit

    assert [s.name for s in SERVICES] == list(services.NAMES) == list(services.ServiceName)
    sealing = [s.name for s in SERVICES if s.holds("data_keys")]
    assert sealing == list(reseal.SealingService)
    assert reseal.DEFAULT_BATCH_SIZE == kit.DEFAULT_BATCH_SIZE
