"""Writing, changing and finding a batch of rows in one statement with one parameter per column.

``INSERT ... SELECT * FROM unnest(:col1, :col2, ...)`` sends each column as one array: one
statement that PostgreSQL plans and runs once per batch, where an ``executemany`` ran it once
per row (PostgreSQL's CPU per batched overdue report fell by about a third). ``update_rows``
and ``among`` do the same for updates and for lookups by composite keys, whose ``IN`` lists
otherwise grow a parameter per key and are compiled and planned again for every batch size.
"""

from collections.abc import Collection, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    Update,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import TableValuedAlias


async def insert_rows(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    skip_conflicts: bool = False,
) -> None:
    """Insert rows that share the same columns; with ``skip_conflicts`` a row that breaks a
    unique constraint is left out instead of failing the statement."""
    if rows:
        statement = _insert(table, tuple(rows[0]), skip_conflicts)
        await session.execute(statement, _as_columns(rows))


async def insert_new_rows(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]], returning: str
) -> list[Any]:
    """Insert rows, leaving out those that break a unique constraint; returns the ``returning``
    column of the rows that went in."""
    if not rows:
        return []
    statement = _insert_returning(table, tuple(rows[0]), returning)
    return list((await session.execute(statement, _as_columns(rows))).scalars())


async def upsert_if_newer(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    version: str = "as_of",
    insert_only: Sequence[str] = (),
) -> None:
    """Insert rows, or update the stored ones whose ``version`` column is older.

    Rows must be unique by ``key`` (PostgreSQL refuses to update one row twice in a statement)
    and share the same columns. Columns not given, and the ``insert_only`` ones, keep their
    stored value (or their default on insert).
    """
    if rows:
        statement = _upsert(table, tuple(rows[0]), tuple(key), version, tuple(insert_only))
        await session.execute(statement, _as_columns(rows))


async def update_rows(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]], key: Sequence[str]
) -> None:
    """Give each row found by its ``key`` columns the other values of its dict (rows share
    the same columns)."""
    if rows:
        statement = _update(table, tuple(rows[0]), tuple(key))
        arrays = {f"{name}_values": values for name, values in _as_columns(rows).items()}
        await session.execute(statement, arrays)


def among(columns: Sequence[Any], keys: Collection[tuple[Any, ...]]) -> ColumnElement[bool]:
    """``(columns) IN (SELECT * FROM unnest(:array1, :array2 ...))`` for composite keys: one
    array parameter per column, however many keys."""
    return _keys_in(
        columns,
        [
            bindparam(None, [key[n] for key in keys], type_=_array_of(column))
            for n, column in enumerate(columns)
        ],
    )


def among_named(columns: Sequence[Any], name: str) -> ColumnElement[bool]:
    """``among`` with its arrays left as parameters ``name_0``, ``name_1`` ..., for a
    statement built once and run with ``key_arrays(name, keys)`` (building a statement cost
    more than running it, on a hot read)."""
    return _keys_in(
        columns,
        [bindparam(f"{name}_{n}", type_=_array_of(column)) for n, column in enumerate(columns)],
    )


def key_arrays(name: str, keys: Collection[tuple[Any, ...]], width: int) -> dict[str, list[Any]]:
    """The parameters of ``among_named(columns, name)`` (``width`` columns) for these keys."""
    return {f"{name}_{n}": [key[n] for key in keys] for n in range(width)}


def _array_of(column: Any) -> ARRAY[Any]:
    return ARRAY(column.type, dimensions=1)


def _keys_in(columns: Sequence[Any], arrays: Sequence[BindParameter[Any]]) -> ColumnElement[bool]:
    unnested = func.unnest(*(cast(array, array.type) for array in arrays))
    given: Select[Any] = select(literal_column("*")).select_from(unnested)
    return tuple_(*columns).in_(given)


def _as_columns(rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in rows[0]}


def _from_arrays(table: Table, columns: tuple[str, ...]) -> Insert:
    """``INSERT INTO table (columns) SELECT * FROM unnest(CAST(:column AS type[]), ...)``."""
    arrays: list[ColumnElement[Any]] = []
    for name in columns:
        array_type = ARRAY(table.c[name].type, dimensions=1)  # a JSON list is one value
        arrays.append(cast(bindparam(name, type_=array_type), array_type))
    unnested: Select[Any] = select(literal_column("*")).select_from(func.unnest(*arrays))
    return pg_insert(table).from_select(list(columns), unnested)


# Statements are built once per shape: building one cost more than running it for a few rows.


@lru_cache(maxsize=64)
def _insert(table: Table, columns: tuple[str, ...], skip_conflicts: bool) -> Insert:
    statement = _from_arrays(table, columns)
    return statement.on_conflict_do_nothing() if skip_conflicts else statement


@lru_cache(maxsize=64)
def _insert_returning(
    table: Table, columns: tuple[str, ...], returning: str
) -> ReturningInsert[tuple[Any]]:
    return _from_arrays(table, columns).on_conflict_do_nothing().returning(table.c[returning])


@lru_cache(maxsize=64)
def _upsert(
    table: Table,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    version: str,
    insert_only: tuple[str, ...],
) -> Insert:
    statement = _from_arrays(table, columns)
    kept = key + insert_only
    return statement.on_conflict_do_update(
        index_elements=[table.c[column] for column in key],
        set_={column: statement.excluded[column] for column in columns if column not in kept},
        where=table.c[version] < statement.excluded[version],
    )


@lru_cache(maxsize=64)
def _update(table: Table, columns: tuple[str, ...], key: tuple[str, ...]) -> Update:
    """``UPDATE table SET ... FROM unnest(:column_values ...) AS given(columns) WHERE key``."""
    arrays: list[ColumnElement[Any]] = []
    for name in columns:
        array_type = ARRAY(table.c[name].type, dimensions=1)
        arrays.append(cast(bindparam(f"{name}_values", type_=array_type), array_type))
    given: TableValuedAlias = (
        func.unnest(*arrays).table_valued(*columns, name="given").render_derived()
    )
    return (
        update(table)
        .where(*(table.c[name] == given.c[name] for name in key))
        .values({name: given.c[name] for name in columns if name not in key})
    )
