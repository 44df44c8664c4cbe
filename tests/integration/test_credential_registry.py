"""One credential registry for every service: a key issued once works wherever its role is
served, a revoked key is refused by every running service within seconds, a service started
later (or with Kafka away) knows the registry, and ``collections keys`` is the operator's
command for all of it."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from deploy.devstack.platform import (
    DEMO_LENDER,
    SERVICES,
    DemoCredentials,
    PlatformSecrets,
    build_app,
    issue_demo_keys,
    service_options,
)
from shared.auth import ALL_LENDERS, Role
from shared.auth.keys import new_api_key
from tests.harness import RunningPlatform, eventually
from tests.infrastructure import TestInfrastructure
from tests.support.factories import new_loan_id
from tests.support.operator_cli import Completed, collections

REPO_ROOT = Path(__file__).resolve().parents[2]
NO_BROKER = "127.0.0.1:1"
REVOCATION_SECONDS = 5.0  # "refused by every service within seconds"
# One read endpoint per service, and the role it admits.
READS = {
    "intake": "/v1/loans/{loan_id}",
    "notifier": "/v1/loans/{loan_id}/notifications",
    "agency_gateway": "/v1/loans/{loan_id}/placement",
    "compliance": "/v1/loans/{loan_id}/timeline?lender_id=lender-any",  # loan ids are per lender
}
READERS = {"intake": Role.LENDER, "notifier": Role.LENDER, "agency_gateway": Role.LENDER}


def bearer(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


async def status_at(client: httpx.AsyncClient, service: str, api_key: str) -> int:
    """A read of a loan nobody reported: 404 once the key is admitted."""
    url = READS[service].format(loan_id=new_loan_id())
    return (await client.get(url, headers=bearer(api_key))).status_code


async def refused_everywhere(platform: RunningPlatform, api_key: str) -> bool:
    for service, client in platform.clients.items():
        response = await client.get(READS[service].format(loan_id="L-1"), headers=bearer(api_key))
        if response.status_code != 401:
            return False
        assert response.headers["www-authenticate"].startswith("Bearer")
    return True


async def test_a_key_issued_once_works_wherever_its_role_is_served(
    platform: RunningPlatform,
) -> None:
    for role in Role:
        issued = await platform.issue(role, f"{role.value}-{uuid4().hex[:6]}")
        for service, client in platform.clients.items():
            status = await status_at(client, service, issued.api_key)
            reader = READERS.get(service, Role.AUDITOR)
            assert status == (404 if role is reader else 403), (role, service, status)


async def test_a_revoked_key_is_refused_by_every_service_within_seconds(
    platform: RunningPlatform,
) -> None:
    lender = await platform.issue(Role.LENDER, f"lender-{uuid4().hex[:6]}")
    auditor = await platform.issue(Role.AUDITOR, "*")
    for key in (lender, auditor):  # admitted (or turned away by role) and cached everywhere
        for service, client in platform.clients.items():
            assert await status_at(client, service, key.api_key) in (403, 404)

    assert await platform.revoke(lender.key_id)
    assert await platform.revoke(auditor.key_id)
    assert not await platform.revoke(lender.key_id)  # already revoked
    for key in (lender, auditor):
        await eventually(
            partial(refused_everywhere, platform, key.api_key),
            within=REVOCATION_SECONDS,
            interval=0.05,
        )


async def test_a_key_tried_before_it_was_issued_works_as_soon_as_it_is(
    platform: RunningPlatform,
) -> None:
    """The refusal is cached (a flood of made-up keys costs no queries), but the registry
    record of the key clears it: no wait for the negative cache to expire."""
    _, api_key = new_api_key()
    intake = platform.clients["intake"]
    assert await status_at(intake, "intake", api_key) == 401
    await platform.keys.issue(Role.LENDER, f"lender-{uuid4().hex[:6]}", api_key=api_key)
    await platform.registry_read_by_all()
    assert await status_at(intake, "intake", api_key) == 404


@asynccontextmanager
async def another_intake(
    infrastructure: TestInfrastructure, database_url: str, bootstrap: str, namespace: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    intake = next(service for service in SERVICES if service.name == "intake")
    options = service_options(
        intake, database_url, bootstrap, PlatformSecrets.generate(), namespace
    )
    app = build_app("intake", options)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i") as client,
    ):
        yield app, client


async def test_a_service_started_later_reads_the_whole_registry_before_it_is_ready(
    platform: RunningPlatform, infrastructure: TestInfrastructure
) -> None:
    kept = await platform.issue(Role.LENDER, f"lender-{uuid4().hex[:6]}")
    revoked = await platform.issue(Role.LENDER, f"lender-{uuid4().hex[:6]}")
    assert await platform.revoke(revoked.key_id)
    database = f"intake_late_{uuid4().hex[:8]}"
    await infrastructure.create_database(database)
    async with another_intake(
        infrastructure,
        infrastructure.postgres_url(database),
        infrastructure.kafka_bootstrap,
        platform.namespace,
    ) as (app, client):

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await eventually(ready, within=60)
        assert app.state.runtime.credentials.caught_up.is_set()
        assert await status_at(client, "intake", kept.api_key) == 404
        assert await status_at(client, "intake", revoked.api_key) == 401


async def test_keys_verify_from_the_mirror_while_kafka_is_away(
    platform: RunningPlatform, infrastructure: TestInfrastructure
) -> None:
    """A replica restarted during a broker outage still knows every key its database mirrored."""
    kept = await platform.issue(Role.LENDER, f"lender-{uuid4().hex[:6]}")
    revoked = await platform.issue(Role.LENDER, f"lender-{uuid4().hex[:6]}")
    assert await platform.revoke(revoked.key_id)
    await platform.registry_read_by_all()
    async with another_intake(
        infrastructure, platform.database_urls["intake"], NO_BROKER, platform.namespace
    ) as (_app, client):
        assert await status_at(client, "intake", kept.api_key) == 404
        assert await status_at(client, "intake", revoked.api_key) == 401


async def keys_command(platform: RunningPlatform, *args: str) -> Completed:
    """``collections keys ...`` as a process, with the operator's Kafka settings."""
    env = {
        "COLLECTIONS_KAFKA_BOOTSTRAP_SERVERS": str(platform.keys.kafka),
        "COLLECTIONS_TOPIC_NAMESPACE": platform.namespace,
    }
    return await collections("keys", *args, env=env)


async def test_the_operator_command_issues_lists_and_revokes_keys_of_every_role(
    platform: RunningPlatform,
) -> None:
    run = uuid4().hex[:6]
    issued = []
    for role, tenant in (
        ("lender", f"lender-{run}"),
        ("auditor", "*"),
        ("operator", f"prometheus-{run}"),
    ):
        issued.append(
            (
                await keys_command(
                    platform,
                    "issue",
                    "--role",
                    role,
                    "--tenant",
                    tenant,
                    "--label",
                    "ops",
                    "--json",
                )
            ).json()
        )
    lender, auditor, operator = issued
    assert lender["api_key"].startswith(f"dc_{lender['key_id']}_")
    assert lender["valid_at"] == ["intake", "notifier", "agency_gateway", "compliance"]
    assert auditor["valid_at"] == ["compliance"]
    assert operator["role"] == "operator"
    assert "agency_gateway" in operator["valid_at"]

    async def admitted() -> bool:
        return (
            await status_at(platform.clients["intake"], "intake", lender["api_key"]) == 404
            and await status_at(platform.clients["compliance"], "compliance", auditor["api_key"])
            == 404
        )

    await eventually(admitted, within=REVOCATION_SECONDS, interval=0.05)

    listing = await keys_command(platform, "list", "--tenant", f"lender-{run}", "--json")
    (listed,) = listing.json()
    assert {k: listed[k] for k in ("key_id", "role", "tenant", "label", "revoked_at")} == {
        "key_id": lender["key_id"],
        "role": "lender",
        "tenant": f"lender-{run}",
        "label": "ops",
        "revoked_at": None,
    }
    assert lender["api_key"] not in listing.out  # a key is shown once, at issue
    shown = await keys_command(platform, "list", "--role", "operator")  # for people: a table
    assert shown.code == 0, shown.err
    assert operator["key_id"] in shown.out
    assert f"prometheus-{run}" in shown.out
    assert operator["api_key"] not in shown.out

    revoked = await keys_command(platform, "revoke", lender["key_id"])
    assert revoked.code == 0, revoked.err
    await eventually(
        lambda: refused_everywhere(platform, lender["api_key"]),
        within=REVOCATION_SECONDS,
        interval=0.05,
    )
    gone = await keys_command(platform, "list", "--tenant", f"lender-{run}", "--json")
    assert gone.json() == []  # revoked keys are listed only with --revoked
    (kept,) = (
        await keys_command(platform, "list", "--tenant", f"lender-{run}", "--revoked", "--json")
    ).json()
    assert kept["revoked_at"] is not None
    unknown = await keys_command(platform, "revoke", "no-such-key")
    assert unknown.code == 1
    assert "no active key" in unknown.err
    refused = await keys_command(platform, "issue", "--role", "lender", "--tenant", "*")
    assert refused.code == 2
    assert "auditors only" in refused.err


@pytest.mark.faults
async def test_keys_work_while_kafka_is_down_and_revocations_arrive_once_it_is_back(
    platform: RunningPlatform, infrastructure: TestInfrastructure
) -> None:
    if not infrastructure.can_restart_kafka:
        pytest.skip("stopping Kafka needs the local stack: run without COLLECTIONS_TEST_* set")
    kept = await platform.issue(Role.LENDER, f"lender-{uuid4().hex[:6]}")
    revoked = await platform.issue(Role.LENDER, f"lender-{uuid4().hex[:6]}")
    _, never_issued = new_api_key()
    await infrastructure.stop_kafka()
    try:
        for service in ("intake", "notifier", "agency_gateway"):
            client = platform.clients[service]
            assert await status_at(client, service, kept.api_key) == 404
            assert await status_at(client, service, never_issued) == 401
    finally:
        await infrastructure.start_kafka()

    assert await platform.revoke(revoked.key_id)
    await eventually(partial(refused_everywhere, platform, revoked.api_key), within=90)
    for service in ("intake", "notifier", "agency_gateway"):
        assert await status_at(platform.clients[service], service, kept.api_key) == 404


async def test_an_older_stacks_demo_auditor_of_every_lender_is_revoked_for_a_scoped_one(
    infrastructure: TestInfrastructure,
) -> None:
    """``make run`` on a ``.devstack`` whose demo auditor saw every lender: the file gets a
    key of the demo lender, and the old key, still in the registry, is revoked there."""
    namespace = f"t{uuid4().hex[:10]}."
    old = DemoCredentials.generate()
    old.auditor.update(id=ALL_LENDERS)
    await issue_demo_keys(infrastructure.kafka_bootstrap, old, namespace)
    current = replace(old, auditor={"id": DEMO_LENDER, "api_key": new_api_key()[1]})
    issuer = await issue_demo_keys(infrastructure.kafka_bootstrap, current, namespace)
    registry = await issuer.list()
    auditors = {
        record.tenant: record.revoked_at is None
        for record in registry.values()
        if record.role is Role.AUDITOR
    }
    assert auditors == {ALL_LENDERS: False, DEMO_LENDER: True}
    assert sum(record.revoked_at is None for record in registry.values()) == 4  # all but it
