"""``collections keys issue|list|revoke``: API keys of every role, valid at every service.

Keys are issued once, for a role and a tenant, into the credential registry (the compacted
topic ``collections.credentials.v1``, reached with ``COLLECTIONS_KAFKA_*`` and
``COLLECTIONS_TOPIC_NAMESPACE``); the full key is printed once, at issue; the registry holds
only its SHA-256; a revocation reaches every running service within a second or so.
"""

import asyncio
from typing import Annotated

import typer

from deploy.cli.output import JsonOption, console, fail, print_json, table
from deploy.cli.settings import OperatorSettings
from shared.auth import IssuedKey, Role
from shared.auth.registry import (
    CredentialIssuer,
    CredentialRecord,
    credentials_topic,
    ensure_credentials_topic,
)

app = typer.Typer(help="API keys of every role (lender, agency, auditor, operator).")

RoleOption = Annotated[Role, typer.Option("--role", case_sensitive=False)]


def valid_at(role: Role) -> list[str]:
    """The services that serve a role's keys."""
    from deploy.devstack.platform import SERVICES

    return [service.name for service in SERVICES if role in service.roles]


def describe(record: CredentialRecord) -> dict[str, object]:
    return {
        "key_id": record.key_id,
        "role": record.role.value,
        "tenant": record.tenant,
        "label": record.label,
        "issued_at": record.issued_at.isoformat(),
        "revoked_at": record.revoked_at.isoformat() if record.revoked_at else None,
        "valid_at": [] if record.revoked_at else valid_at(record.role),
    }


async def _issuer(settings: OperatorSettings) -> CredentialIssuer:
    topic = credentials_topic(settings.topic_namespace)
    kafka = settings.kafka_connection()
    await ensure_credentials_topic(
        kafka, topic, settings.topic_replication_factor, settings.topic_min_insync_replicas
    )
    return CredentialIssuer(kafka, topic)


@app.command()
def issue(
    role: RoleOption,
    tenant: Annotated[
        str,
        typer.Option(
            help="lender id, agency id, the lender an auditor may see ('*': all), "
            "operator name (e.g. prometheus)"
        ),
    ],
    label: Annotated[str, typer.Option(help="a note, e.g. which system uses it")] = "",
    as_json: JsonOption = False,
) -> None:
    """Issue a new key and print it (once: it is never shown again)."""

    async def run() -> IssuedKey:
        return await (await _issuer(OperatorSettings())).issue(role, tenant, label)

    try:
        issued = asyncio.run(run())
    except ValueError as refused:
        raise fail(str(refused), 2) from refused
    document = {
        "key_id": issued.key_id,
        "api_key": issued.api_key,
        "role": issued.role.value,
        "tenant": issued.tenant,
        "valid_at": valid_at(issued.role),
    }
    if as_json:
        print_json(document)
        return
    table([document], list(document), "issued (the key is shown this once)", as_json=False)


@app.command("list")
def list_keys(
    role: Annotated[Role | None, typer.Option(case_sensitive=False)] = None,
    tenant: Annotated[str | None, typer.Option()] = None,
    revoked: Annotated[bool, typer.Option("--revoked", help="revoked keys too")] = False,
    as_json: JsonOption = False,
) -> None:
    """List keys (never the keys themselves)."""

    async def run() -> list[CredentialRecord]:
        return list((await (await _issuer(OperatorSettings())).list()).values())

    rows = [
        describe(record)
        for record in asyncio.run(run())
        if (role is None or record.role == role)
        and (tenant is None or record.tenant == tenant)
        and (revoked or record.revoked_at is None)
    ]
    columns = ["key_id", "role", "tenant", "label", "issued_at", "revoked_at", "valid_at"]
    table(rows, columns, "API keys", as_json=as_json)


@app.command()
def revoke(key_id: Annotated[str, typer.Argument(help="the key's id (from list)")]) -> None:
    """Revoke a key at every service."""

    async def run() -> bool:
        return await (await _issuer(OperatorSettings())).revoke(key_id)

    if not asyncio.run(run()):
        raise fail(f"no active key {key_id}")
    console().print(f"revoked {key_id}", markup=False)
