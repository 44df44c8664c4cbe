"""``python -m deploy.agencies put|list|show``: the operator's command for the agency registry.

It calls the gateway's operator API (``PUT/GET /v1/agencies``) with an operator key:

    python -m deploy.keys issue --role operator --tenant ops      # once: prints the key
    export AGENCIES_API_KEY=<that key> AGENCIES_URL=http://127.0.0.1:8003
    python -m deploy.agencies put agency-east --name "East Collections" --jurisdiction CN \\
        --region CN-ZJ --capacity 2000 --share 2 --phone +864009876543
    python -m deploy.agencies put agency-east ... --inactive      # takes no new loans
    python -m deploy.agencies list
    python -m deploy.agencies show agency-east

The agency's own keys come from the credential registry, tenant = the agency id:
``python -m deploy.keys issue --role agency --tenant agency-east``. Output is JSON.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class AgenciesSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AGENCIES_", extra="ignore")

    url: str = "http://127.0.0.1:8003"
    api_key: SecretStr = SecretStr("")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m deploy.agencies", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    put = commands.add_parser("put", help="register an agency or replace its terms")
    put.add_argument("agency_id")
    put.add_argument("--name", required=True)
    put.add_argument("--phone")
    put.add_argument("--jurisdiction", action="append", required=True, dest="jurisdictions")
    put.add_argument("--region", action="append", default=[], dest="regions")
    put.add_argument("--capacity", type=int, required=True)
    put.add_argument("--share", type=int, required=True)
    put.add_argument("--webhook-url")
    put.add_argument("--inactive", action="store_true")
    commands.add_parser("list", help="every registered agency")
    show = commands.add_parser("show", help="one agency's terms")
    show.add_argument("agency_id")
    return root


def request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    if args.command == "put":
        body = {
            "name": args.name,
            "phone": args.phone,
            "jurisdictions": args.jurisdictions,
            "regions": args.regions,
            "capacity": args.capacity,
            "share": args.share,
            "webhook_url": args.webhook_url,
            "active": not args.inactive,
        }
        return "PUT", f"/v1/agencies/{args.agency_id}", body
    if args.command == "show":
        return "GET", f"/v1/agencies/{args.agency_id}", None
    return "GET", "/v1/agencies", None


def main(argv: Sequence[str], settings: AgenciesSettings | None = None) -> int:
    settings = settings or AgenciesSettings()
    method, path, body = request(parser().parse_args(argv))
    headers = {"Authorization": f"Bearer {settings.api_key.get_secret_value()}"}
    answer = httpx.request(method, settings.url + path, json=body, headers=headers, timeout=10)
    print(json.dumps(answer.json(), ensure_ascii=False))
    return 0 if answer.is_success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
