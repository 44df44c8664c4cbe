"""The agency registry: the operator API, and the demo agencies ``make run`` seeds once."""

from uuid import uuid4

from sqlalchemy import text

from services.agency_gateway.cli.demo import DEMO_TERMS, seed_demo_agencies
from services.agency_gateway.wiring import MIGRATIONS
from shared.db.engine import create_engine
from shared.db.migrations import upgrade_to_head
from tests.infrastructure import TestInfrastructure
from tests.integration.agency_gateway.stack import GatewayStack


async def test_an_operator_registers_and_changes_an_agency(stack: GatewayStack) -> None:
    agency_id = f"agency-{uuid4().hex[:6]}"
    await stack.register(agency_id, jurisdictions=["US"], share=0, capacity=0)
    assert stack.operator is not None
    shown = await stack.gateway.get(f"/v1/agencies/{agency_id}", headers=stack.operator)
    assert shown.status_code == 200
    assert (shown.json()["jurisdictions"], shown.json()["share"]) == (["US"], 0)
    changed = await stack.gateway.put(
        f"/v1/agencies/{agency_id}",
        json={"name": "Renamed", "jurisdictions": ["CN"], "capacity": 0, "share": 0},
        headers=stack.operator,
    )
    assert changed.status_code == 200
    listed = await stack.gateway.get("/v1/agencies", headers=stack.operator)
    names = {a["agency_id"]: a["name"] for a in listed.json()["agencies"]}
    assert names[agency_id] == "Renamed"
    missing = await stack.gateway.get("/v1/agencies/agency-none", headers=stack.operator)
    assert missing.status_code == 404
    bad = await stack.gateway.put(
        f"/v1/agencies/{agency_id}",
        json={"name": "X", "jurisdictions": [], "capacity": -1, "share": 1},
        headers=stack.operator,
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"jurisdictions", "capacity"}
    as_agency = await stack.gateway.get("/v1/agencies", headers=stack.agency("agency-north"))
    assert as_agency.status_code == 403


async def test_the_demo_agencies_are_seeded_once(infrastructure: TestInfrastructure) -> None:
    database = f"seed_{uuid4().hex[:10]}"
    await infrastructure.create_database(database)
    url = infrastructure.postgres_url(database)
    await upgrade_to_head(MIGRATIONS, url)
    ids = tuple(DEMO_TERMS)
    await seed_demo_agencies(url, ids)
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE agencies SET share = 7 WHERE agency_id = :id"), {"id": ids[0]}
            )
        await seed_demo_agencies(url, ids)  # make run again: the operator's change stays
        async with engine.connect() as connection:
            rows: dict[str, int] = dict(
                (await connection.execute(text("SELECT agency_id, share FROM agencies"))).all()
            )
    finally:
        await engine.dispose()
    assert rows == {ids[0]: 7, ids[1]: DEMO_TERMS[ids[1]]["share"]}
