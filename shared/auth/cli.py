"""The operator's command line for a service's API keys: create, list, revoke.

Each service exposes it for the roles it serves (``python -m services.intake.keys``). The full
key is printed once, at creation; only its hash is stored.
"""

import argparse
import asyncio
import json
from collections.abc import Sequence

from shared.auth.keys import ApiKeyStore, Role
from shared.db.engine import create_engine, create_session_factory


def _parser(program: str, roles: Sequence[Role]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=program, description="Manage API keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="issue a new key and print it (once)")
    create.add_argument("--role", choices=[r.value for r in roles], default=roles[0].value)
    create.add_argument("--principal", required=True, help="the lender/agency/auditor id")
    create.add_argument("--label", default="", help="a note, e.g. which system uses it")
    listing = commands.add_parser("list", help="list keys (never the secrets)")
    listing.add_argument("--role", choices=[r.value for r in roles])
    revoke = commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    return parser


async def _run(args: argparse.Namespace, database_url: str) -> int:
    engine = create_engine(database_url, pool_size=1)
    store = ApiKeyStore(create_session_factory(engine))
    try:
        if args.command == "create":
            issued = await store.issue(Role(args.role), args.principal, args.label)
            print(json.dumps({"key_id": issued.key_id, "api_key": issued.api_key}))
            return 0
        if args.command == "list":
            for key in await store.list(Role(args.role) if args.role else None):
                print(
                    json.dumps(
                        {
                            "key_id": key.key_id,
                            "role": key.role.value,
                            "principal": key.principal_id,
                            "label": key.label,
                            "created_at": key.created_at.isoformat(),
                            "revoked": key.revoked_at is not None,
                        }
                    )
                )
            return 0
        if await store.revoke(args.key_id):
            print(f"revoked {args.key_id}")
            return 0
        print(f"no active key {args.key_id}")
        return 1
    finally:
        await engine.dispose()


def main(program: str, roles: Sequence[Role], database_url: str, argv: Sequence[str]) -> int:
    args = _parser(program, roles).parse_args(list(argv))
    return asyncio.run(_run(args, database_url))
