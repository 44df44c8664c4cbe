"""The demo agencies ``make run`` registers (their API keys are the demo credentials)."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert

from services.agency_gateway.adapters.tables import agencies
from shared.db.engine import create_engine

DEMO_TERMS: dict[str, dict[str, Any]] = {
    "agency-north": {
        "name": "North Star Collections",
        "phone": "+864001234567",
        "jurisdictions": ["CN"],
        "regions": ["CN-BJ", "CN-SH"],
        "capacity": 10_000,
        "share": 3,
    },
    "agency-south": {
        "name": "Southern Recovery Partners",
        "phone": "+18005550100",
        "jurisdictions": ["CN", "US"],
        "regions": ["CN-GD", "US-CA"],
        "capacity": 5_000,
        "share": 1,
    },
}


async def seed_demo_agencies(database_url: str, agency_ids: tuple[str, ...]) -> None:
    """Register each demo agency not registered yet (an operator's later change stays)."""
    now = datetime.now(UTC)
    rows = [
        {"agency_id": agency_id, **DEMO_TERMS[agency_id], "webhook_url": None, "active": True}
        | {"created_at": now, "updated_at": now}
        for agency_id in agency_ids
    ]
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(pg_insert(agencies).values(rows).on_conflict_do_nothing())
    finally:
        await engine.dispose()
