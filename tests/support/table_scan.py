"""Every row of every table of a service's database, searched for what must not rest there.

Used after an erasure: the borrower's plaintext must be nowhere, and a sealed value (a JSON
object with ``kid`` and ``ct``) of the erased loan only where a test says why it stays.
"""

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

SEARCHABLE = ("text", "character varying", "json", "jsonb", "bytea", "ARRAY", "USER-DEFINED")


@dataclass(frozen=True)
class Found:
    database: str
    table: str
    column: str
    rows: int


async def scan(database: str, url: str, needles: list[str], *, with_: str = "") -> list[Found]:
    """Each column of each table of ``url`` in which some row holds one of ``needles`` (as
    text; ``with_``: and, in the same row, that text too, e.g. a loan id)."""
    engine = create_async_engine(url)
    found: list[Found] = []
    try:
        async with engine.connect() as connection:
            columns = await connection.execute(
                text(
                    "SELECT c.table_name, c.column_name, c.data_type "
                    "FROM information_schema.columns c JOIN information_schema.tables t "
                    "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
                    "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'"
                )
            )
            for table, column, data_type in columns.all():
                if data_type not in SEARCHABLE:
                    continue
                value = (
                    f"convert_from(\"{column}\", 'UTF8')"
                    if data_type == "bytea"
                    else f'"{column}"::text'
                )
                row_text = f'"{table}"::text'
                clauses = " OR ".join(f"{value} LIKE :n{i}" for i in range(len(needles)))
                where = f"({clauses})" + (f" AND {row_text} LIKE :row" if with_ else "")
                params = {f"n{i}": f"%{needle}%" for i, needle in enumerate(needles)}
                if with_:
                    params["row"] = f"%{with_}%"
                try:
                    count = await connection.scalar(
                        # names from information_schema, values bound: nothing from outside
                        text(f'SELECT count(*) FROM "{table}" WHERE {where}'),  # noqa: S608
                        params,
                    )
                except Exception:
                    await connection.rollback()
                    continue
                if count:
                    found.append(Found(database, table, column, int(count)))
    finally:
        await engine.dispose()
    return found
