"""Who may do what: a lender sees and changes only its own loans, other roles are turned away,
a revoked key stops working, and the operator manages keys from the command line."""

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import text

from shared.auth import ApiKeyStore, IssuedKey, Role
from shared.auth.dependencies import CACHE_SECONDS
from shared.auth.revocations import APPLICATION_NAME
from tests.harness import RunningPlatform, eventually
from tests.integration.intake.support import (
    IntakeTables,
    assert_problem,
)
from tests.support.factories import (
    new_loan_id,
    payment,
    report,
)

REPO_ROOT = Path(__file__).resolve().parents[3]


def bearer(key: IssuedKey | str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key if isinstance(key, str) else key.api_key}"}


async def test_another_lenders_loan_is_not_found(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    lender_id: str,
    as_lender_two: dict[str, str],
    tables: IntakeTables,
) -> None:
    loan_id = new_loan_id()
    assert (await intake.post("/v1/overdue-loans", json=report(loan_id), headers=lender)).is_success
    hold = await intake.post(
        f"/v1/loans/{loan_id}/holds", json={"reason": "dispute"}, headers=lender
    )
    hold_id = hold.json()["hold_id"]
    before = (await intake.get(f"/v1/loans/{loan_id}", headers=lender)).json()
    written = await tables.rows_about(lender_id, loan_id)

    loan_url = f"/v1/loans/{loan_id}"
    attempts = [
        intake.get(loan_url, headers=as_lender_two),
        intake.post(f"{loan_url}/payments", json=payment("P-x", "1.00"), headers=as_lender_two),
        intake.post(f"{loan_url}/holds", json={"reason": "dispute"}, headers=as_lender_two),
        intake.delete(f"{loan_url}/holds/{hold_id}", headers=as_lender_two),
        intake.post(f"{loan_url}/recall", json={}, headers=as_lender_two),
        intake.post(f"{loan_url}/close", json={"reason": "settled"}, headers=as_lender_two),
    ]
    for response in await asyncio.gather(*attempts):
        assert_problem(response, 404)

    assert (await intake.get(loan_url, headers=lender)).json() == before
    assert await tables.rows_about(lender_id, loan_id) == written


async def test_two_lenders_may_use_the_same_loan_id(
    intake: httpx.AsyncClient,
    lender: dict[str, str],
    as_lender_two: dict[str, str],
    lender_two: IssuedKey,
    tables: IntakeTables,
) -> None:
    loan_id = new_loan_id()
    key = str(uuid4())  # one Idempotency-Key for both: keys are per lender too
    ones = await intake.post(
        "/v1/overdue-loans", json=report(loan_id), headers={**lender, "Idempotency-Key": key}
    )
    theirs = report(loan_id, amount_overdue={"amount": "77.00", "currency": "CNY"})
    twos = await intake.post(
        "/v1/overdue-loans", json=theirs, headers={**as_lender_two, "Idempotency-Key": key}
    )

    assert (ones.status_code, twos.status_code) == (202, 202)
    assert "Idempotent-Replayed" not in twos.headers
    assert ones.json()["event_id"] != twos.json()["event_id"]
    one = (await intake.get(f"/v1/loans/{loan_id}", headers=lender)).json()
    two = (await intake.get(f"/v1/loans/{loan_id}", headers=as_lender_two)).json()
    assert one["amount_overdue"]["amount"] == "1250.00"
    assert two["amount_overdue"]["amount"] == "77.00"
    assert [h["event_id"] for h in one["history"]] == [ones.json()["event_id"]]
    assert [h["event_id"] for h in two["history"]] == [twos.json()["event_id"]]
    assert one["borrower_ref"] != two["borrower_ref"]  # pseudonyms are per lender

    closed = await intake.post(
        f"/v1/loans/{loan_id}/close", json={"reason": "written_off"}, headers=as_lender_two
    )
    assert closed.status_code == 202
    assert (await intake.get(f"/v1/loans/{loan_id}", headers=lender)).json()["status"] == (
        "delinquent"
    )
    assert await tables.rows_about(lender_two.principal_id, loan_id) == {
        "loans": 1,
        "loan_events": 2,
        "outbox": 2,
    }


async def test_other_roles_are_turned_away(
    platform: RunningPlatform, intake: httpx.AsyncClient, key_store: ApiKeyStore
) -> None:
    body = report(new_loan_id())
    agency_elsewhere = platform.credentials.agencies[0]["api_key"]  # agency_gateway's key
    auditor_elsewhere = platform.credentials.auditor["api_key"]  # compliance's key
    for api_key in (agency_elsewhere, auditor_elsewhere, "dc_unknown_secret", "not-a-key"):
        response = await intake.post("/v1/overdue-loans", json=body, headers=bearer(api_key))
        assert_problem(response, 401)
    assert_problem(await intake.post("/v1/overdue-loans", json=body), 401)

    for role in (Role.AGENCY, Role.AUDITOR, Role.OPERATOR):
        issued = await key_store.issue(role, f"{role.value}-at-intake")
        response = await intake.post("/v1/overdue-loans", json=body, headers=bearer(issued))
        assert_problem(response, 403)
        response = await intake.get(f"/v1/loans/{body['loan_id']}", headers=bearer(issued))
        assert_problem(response, 403)


@pytest.fixture
def past_the_auth_cache(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Moves the authenticator's clock (only its own) beyond the verification cache."""

    def advance() -> None:
        later = time.monotonic() + CACHE_SECONDS + 1
        monkeypatch.setattr(
            "shared.auth.dependencies.time", SimpleNamespace(monotonic=lambda: later)
        )

    return advance


async def refused(intake: httpx.AsyncClient, key: IssuedKey) -> bool:
    response = await intake.get(f"/v1/loans/{new_loan_id()}", headers=bearer(key))
    return response.status_code == 401


async def test_a_revoked_key_stops_working_at_once_though_it_was_cached(
    platform: RunningPlatform, intake: httpx.AsyncClient, key_store: ApiKeyStore
) -> None:
    """The revocation's NOTIFY drops the key from the app's cache: refused in well under the
    30 s the cache would otherwise keep it."""
    await platform.runtime("intake").revocations.listening.wait()
    issued = await key_store.issue(Role.LENDER, "lender-revoked")
    assert not await refused(intake, issued)  # now verified and cached

    assert await key_store.revoke(issued.key_id)
    assert await key_store.verify(issued.api_key) is None
    assert not await key_store.revoke(issued.key_id)
    await eventually(lambda: refused(intake, issued), within=CACHE_SECONDS / 10, interval=0.05)


async def revoke_without_notice(tables: IntakeTables, key_id: str) -> None:
    """As by hand in SQL: the key is revoked, no NOTIFY goes out."""
    async with tables.engine.begin() as connection:
        await connection.execute(
            text("UPDATE api_keys SET revoked_at = now() WHERE key_id = :key_id"),
            {"key_id": key_id},
        )


async def test_a_key_revoked_without_notice_is_refused_once_its_cache_entry_expires(
    intake: httpx.AsyncClient,
    key_store: ApiKeyStore,
    tables: IntakeTables,
    past_the_auth_cache: Callable[[], None],
) -> None:
    """Revoked by hand in SQL (no NOTIFY): the cache's expiry bounds how long it still works."""
    issued = await key_store.issue(Role.LENDER, "lender-revoked-by-hand")
    assert not await refused(intake, issued)
    await revoke_without_notice(tables, issued.key_id)
    assert not await refused(intake, issued)  # still cached
    past_the_auth_cache()
    assert await refused(intake, issued)


@pytest.mark.faults
async def test_revocations_still_arrive_after_the_listening_connection_is_killed(
    platform: RunningPlatform,
    intake: httpx.AsyncClient,
    key_store: ApiKeyStore,
    tables: IntakeTables,
) -> None:
    """The listener is restarted, and drops the whole cache when it is back (a revocation may
    have been missed meanwhile)."""
    listener = platform.runtime("intake").revocations
    await listener.listening.wait()
    before = await key_store.issue(Role.LENDER, "lender-revoked-while-deaf")
    after = await key_store.issue(Role.LENDER, "lender-revoked-once-back")
    assert not await refused(intake, before)
    async with tables.engine.begin() as connection:
        killed = await connection.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": APPLICATION_NAME},
        )
        assert killed == 1
    await revoke_without_notice(tables, before.key_id)
    await eventually(lambda: refused(intake, before), within=CACHE_SECONDS / 2, interval=0.05)

    async def listening() -> bool:
        return listener.listening.is_set()

    await eventually(listening, within=CACHE_SECONDS / 2)
    assert not await refused(intake, after)
    assert await key_store.revoke(after.key_id)
    await eventually(lambda: refused(intake, after), within=CACHE_SECONDS / 10, interval=0.05)


async def test_a_key_revoked_before_its_first_use_is_refused_at_once(
    intake: httpx.AsyncClient, key_store: ApiKeyStore
) -> None:
    issued = await key_store.issue(Role.LENDER, "lender-revoked-early")
    assert await key_store.revoke(issued.key_id)
    assert_problem(await intake.get(f"/v1/loans/{new_loan_id()}", headers=bearer(issued)), 401)


async def keys_cli(database_url: str, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.intake.keys",
        *args,
        cwd=REPO_ROOT,
        env={**os.environ, "INTAKE_DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode() + err.decode()


async def test_the_operator_cli_creates_lists_and_revokes_keys(
    platform: RunningPlatform, intake: httpx.AsyncClient, key_store: ApiKeyStore
) -> None:
    """``python -m services.intake.keys`` as the operator runs it. A process takes a couple of
    seconds to start here, so the four commands run side by side on keys of their own."""
    database_url = platform.database_urls["intake"]
    run = uuid4().hex[:6]
    listed_key = await key_store.issue(Role.LENDER, f"lender-listed-{run}", "billing system")
    revoked_key = await key_store.issue(Role.LENDER, f"lender-revoked-{run}")

    created, listing, revoked, unknown = await asyncio.gather(
        keys_cli(database_url, "create", "--principal", f"lender-cli-{run}", "--label", "ops"),
        keys_cli(database_url, "list", "--role", "lender"),
        keys_cli(database_url, "revoke", revoked_key.key_id),
        keys_cli(database_url, "revoke", "no-such-key"),
    )

    code, out = created
    assert code == 0, out
    new_key = json.loads(out)
    assert new_key["api_key"].startswith(f"dc_{new_key['key_id']}_")
    posted = await intake.post(
        "/v1/overdue-loans", json=report(new_loan_id()), headers=bearer(new_key["api_key"])
    )
    assert posted.status_code == 202, posted.text

    code, out = listing
    assert code == 0, out
    entries = {entry["key_id"]: entry for entry in map(json.loads, out.splitlines())}
    assert {k: entries[listed_key.key_id][k] for k in ("principal", "label", "revoked")} == {
        "principal": f"lender-listed-{run}",
        "label": "billing system",
        "revoked": False,
    }
    assert all(entry["role"] == "lender" for entry in entries.values())
    assert listed_key.api_key not in out  # a secret is shown once, at creation

    code, out = revoked
    assert code == 0, out
    assert await key_store.verify(revoked_key.api_key) is None
    response = await intake.get(f"/v1/loans/{new_loan_id()}", headers=bearer(revoked_key))
    assert_problem(response, 401)
    assert unknown[0] == 1, unknown[1]
