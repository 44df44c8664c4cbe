"""``collections outbox parked|release SERVICE``: the outbox rows a service's relay parked.

The relay parks an event Kafka refuses for good (too large for the topic, not authorized) and
holds the later events of its topic and key behind it (:mod:`shared.kafka.outbox`). ``parked``
lists them, with how many events each holds back; ``release`` (after the cause is fixed, e.g.
the topic's ``max.message.bytes`` raised) clears their mark, so the running relay publishes
them again, first of their key. The database is the service's own (``<SERVICE>_DATABASE_URL``).
"""

import asyncio
from typing import Annotated, Any

import typer

from deploy.cli.output import JsonOption, console, fail, print_json, table
from deploy.cli.services import ServiceName, service

app = typer.Typer(help="Parked outbox rows of a service: list them, release them.")

Service = Annotated[ServiceName, typer.Argument(metavar="SERVICE", help="whose outbox")]
COLUMNS = ["id", "event_id", "topic", "message_key", "bytes", "parked_at", "held_back", "reason"]


def _is_parked() -> Any:
    from sqlalchemy import and_

    from shared.db.kit_tables import outbox

    return and_(outbox.c.parked_at.is_not(None), outbox.c.published_at.is_(None))


async def parked_rows(database_url: str, tls: Any = None) -> list[dict[str, Any]]:
    """Every parked, unpublished row, in id order, with the events it holds back."""
    from sqlalchemy import func, select

    from shared.db.engine import create_engine
    from shared.db.kit_tables import outbox

    behind = outbox.alias("behind")
    held_back = (
        select(func.count())
        .where(
            behind.c.topic == outbox.c.topic,
            behind.c.message_key == outbox.c.message_key,
            behind.c.id > outbox.c.id,
            behind.c.published_at.is_(None),
        )
        .scalar_subquery()
    )
    query = (
        select(
            outbox.c.id,
            outbox.c.event_id,
            outbox.c.topic,
            outbox.c.message_key,
            func.length(outbox.c.payload).label("bytes"),
            outbox.c.parked_at,
            held_back.label("held_back"),
            outbox.c.park_reason.label("reason"),
        )
        .where(_is_parked())
        .order_by(outbox.c.id)
    )
    engine = create_engine(database_url, pool_size=1, tls=tls)
    try:
        async with engine.connect() as connection:
            return [dict(row._mapping) for row in await connection.execute(query)]
    finally:
        await engine.dispose()


async def release_rows(database_url: str, ids: list[int] | None, tls: Any = None) -> list[int]:
    """Clear the mark of the parked rows ``ids`` (None: every one); returns the ids released."""
    from sqlalchemy import update

    from shared.db.engine import create_engine
    from shared.db.kit_tables import outbox

    statement = update(outbox).where(_is_parked())
    if ids is not None:
        statement = statement.where(outbox.c.id.in_(ids))
    statement = statement.values(parked_at=None, park_reason=None).returning(outbox.c.id)
    engine = create_engine(database_url, pool_size=1, tls=tls)
    try:
        async with engine.begin() as connection:
            return sorted(row.id for row in await connection.execute(statement))
    finally:
        await engine.dispose()


@app.command()
def parked(name: Service, as_json: JsonOption = False) -> None:
    """List the service's parked outbox rows."""
    settings = service(name).settings()
    rows = asyncio.run(parked_rows(settings.database_url, settings.postgres_tls()))
    table(rows, COLUMNS, f"parked outbox rows of {name}", as_json=as_json)


@app.command()
def release(
    name: Service,
    ids: Annotated[list[int] | None, typer.Argument(help="row ids (from parked)")] = None,
    every: Annotated[bool, typer.Option("--all", help="every parked row")] = False,
    as_json: JsonOption = False,
) -> None:
    """Release parked rows: the running relay publishes them again."""
    if not ids and not every:
        raise fail("name the rows to release (ids from `parked`), or --all", 2)
    settings = service(name).settings()
    chosen = None if every else list(ids or [])
    released = asyncio.run(release_rows(settings.database_url, chosen, settings.postgres_tls()))
    missing = sorted(set(chosen or []) - set(released))
    if as_json:
        print_json({"released": released, "not_parked": missing})
    else:
        console().print(f"{name}: released {len(released)} {released}", markup=False)
    if missing:
        raise fail(f"not parked (or no such row): {missing}")
