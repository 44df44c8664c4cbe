"""``python -m deploy.keys issue|list|revoke``: the operator's command for every API key.

Keys are issued once, for a role and a tenant, into the credential registry (the compacted
topic ``collections.credentials.v1``), and are valid at every service that serves the role;
a revocation reaches every running service within a second or so. The full key is printed
once, at issue; the registry holds only its SHA-256.

    python -m deploy.keys issue --role lender --tenant lender-42 --label "billing system"
    python -m deploy.keys issue --role auditor --tenant '*'    # an auditor of every lender
    python -m deploy.keys list [--role lender] [--tenant lender-42] [--revoked]
    python -m deploy.keys revoke <key id>

Kafka is found through ``KEYS_KAFKA_BOOTSTRAP_SERVERS`` (and ``KEYS_TOPIC_NAMESPACE``, as the
services' ``<SERVICE>_TOPIC_NAMESPACE``); output is one JSON object per line.
"""

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from deploy.devstack.platform import SERVICES
from shared.auth import Role
from shared.auth.registry import (
    CredentialIssuer,
    CredentialRecord,
    credentials_topic,
    ensure_credentials_topic,
)
from shared.kafka.settings import KafkaSettings


class KeysSettings(KafkaSettings):
    """Where the registry is: the same Kafka (TLS, SASL) and topic settings as the services'."""

    model_config = SettingsConfigDict(env_prefix="KEYS_", extra="ignore")

    topic_namespace: str = ""
    topic_replication_factor: int = Field(default=1, ge=1)
    topic_min_insync_replicas: int = Field(default=1, ge=1)


def valid_at(role: Role) -> list[str]:
    """The services that serve a role's keys."""
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.keys",
        description="Issue, list and revoke API keys of every role, at every service.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    issue = commands.add_parser("issue", help="issue a new key and print it (once)")
    issue.add_argument("--role", required=True, choices=[role.value for role in Role])
    issue.add_argument(
        "--tenant",
        required=True,
        help="lender id, agency id, the lender an auditor may see ('*': all), operator name",
    )
    issue.add_argument("--label", default="", help="a note, e.g. which system uses it")
    listing = commands.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--role", choices=[role.value for role in Role])
    listing.add_argument("--tenant")
    listing.add_argument("--revoked", action="store_true", help="revoked keys too")
    revoke = commands.add_parser("revoke", help="revoke a key everywhere, by its id")
    revoke.add_argument("key_id")
    return parser


async def run(args: argparse.Namespace, settings: KeysSettings) -> int:
    topic = credentials_topic(settings.topic_namespace)
    kafka = settings.kafka_connection()
    await ensure_credentials_topic(
        kafka,
        topic,
        settings.topic_replication_factor,
        settings.topic_min_insync_replicas,
    )
    issuer = CredentialIssuer(kafka, topic)
    if args.command == "issue":
        try:
            issued = await issuer.issue(Role(args.role), args.tenant, args.label)
        except ValueError as refused:
            print(refused, file=sys.stderr)
            return 2
        print(
            json.dumps(
                {
                    "key_id": issued.key_id,
                    "api_key": issued.api_key,
                    "role": issued.role.value,
                    "tenant": issued.tenant,
                    "valid_at": valid_at(issued.role),
                }
            )
        )
        return 0
    if args.command == "list":
        for record in (await issuer.list()).values():
            if (
                (args.role is None or record.role.value == args.role)
                and (args.tenant is None or record.tenant == args.tenant)
                and (args.revoked or record.revoked_at is None)
            ):
                print(json.dumps(describe(record)))
        return 0
    if await issuer.revoke(args.key_id):
        print(json.dumps({"revoked": args.key_id}))
        return 0
    print(f"no active key {args.key_id}", file=sys.stderr)
    return 1


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    return asyncio.run(run(args, KeysSettings()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
