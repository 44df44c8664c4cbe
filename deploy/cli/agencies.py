"""``collections agencies put|list|show``: the agency registry, through the gateway's operator
API (``PUT/GET /v1/agencies``) with an operator key (``COLLECTIONS_API_KEY`` or ``--api-key``)
at ``COLLECTIONS_GATEWAY_URL``. An agency's own keys come from the credential registry,
tenant = the agency id: ``collections keys issue --role agency --tenant agency-east``.
"""

from typing import Annotated, Any

import httpx
import typer

from deploy.cli.output import JsonOption, fail, print_json, table
from deploy.cli.settings import OperatorSettings

app = typer.Typer(help="The agency registry, through the gateway's operator API.")

ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", help="an operator key (default: $COLLECTIONS_API_KEY)"),
]
COLUMNS = ["agency_id", "name", "jurisdictions", "regions", "capacity", "share", "active"]


def put_request(
    agency_id: str,
    *,
    name: str,
    jurisdictions: list[str],
    capacity: int,
    share: int,
    phone: str | None = None,
    regions: list[str] | None = None,
    webhook_url: str | None = None,
    inactive: bool = False,
) -> tuple[str, str, dict[str, Any]]:
    """The operator API's request that registers an agency or replaces its terms."""
    body = {
        "name": name,
        "phone": phone,
        "jurisdictions": jurisdictions,
        "regions": regions or [],
        "capacity": capacity,
        "share": share,
        "webhook_url": webhook_url,
        "active": not inactive,
    }
    return "PUT", f"/v1/agencies/{agency_id}", body


def call(method: str, path: str, body: dict[str, Any] | None, api_key: str | None) -> Any:
    """The gateway's answer as JSON; a refusal is printed and the command exits 1."""
    settings = OperatorSettings()
    key = api_key or settings.api_key.get_secret_value()
    headers = {"Authorization": f"Bearer {key}"}
    try:
        answer = httpx.request(
            method, settings.gateway_url + path, json=body, headers=headers, timeout=10
        )
    except httpx.HTTPError as error:
        raise fail(f"{settings.gateway_url}: {error}") from error
    if not answer.is_success:
        raise fail(f"HTTP {answer.status_code}: {answer.text}")
    return answer.json()


@app.command()
def put(
    agency_id: str,
    name: Annotated[str, typer.Option()],
    jurisdiction: Annotated[list[str], typer.Option(help="repeat for each jurisdiction")],
    capacity: Annotated[int, typer.Option()],
    share: Annotated[int, typer.Option()],
    phone: Annotated[str | None, typer.Option()] = None,
    region: Annotated[list[str] | None, typer.Option(help="repeat for each region")] = None,
    webhook_url: Annotated[str | None, typer.Option()] = None,
    inactive: Annotated[bool, typer.Option("--inactive", help="takes no new loans")] = False,
    api_key: ApiKey = None,
    as_json: JsonOption = False,
) -> None:
    """Register an agency or replace its terms."""
    method, path, body = put_request(
        agency_id,
        name=name,
        jurisdictions=jurisdiction,
        capacity=capacity,
        share=share,
        phone=phone,
        regions=region,
        webhook_url=webhook_url,
        inactive=inactive,
    )
    _show([call(method, path, body, api_key)], as_json=as_json, one=True)


@app.command("list")
def list_agencies(api_key: ApiKey = None, as_json: JsonOption = False) -> None:
    """Every registered agency."""
    answer = call("GET", "/v1/agencies", None, api_key)
    _show(answer["agencies"] if isinstance(answer, dict) else answer, as_json=as_json)


@app.command()
def show(agency_id: str, api_key: ApiKey = None, as_json: JsonOption = False) -> None:
    """One agency's terms."""
    _show([call("GET", f"/v1/agencies/{agency_id}", None, api_key)], as_json=as_json, one=True)


def _show(agencies: list[dict[str, Any]], *, as_json: bool, one: bool = False) -> None:
    if as_json:
        print_json(agencies[0] if one else agencies)
        return
    table(agencies, COLUMNS, "agencies", as_json=False)
