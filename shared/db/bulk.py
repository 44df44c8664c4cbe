"""Writing, changing and finding a batch of rows in one statement with one parameter per column.

``INSERT ... SELECT ... FROM unnest(:col1, :col2, ...)`` sends each column as one array: one
statement that PostgreSQL plans and runs once per batch, where an ``executemany`` ran it once
per row (PostgreSQL's CPU per batched overdue report fell by about a third). ``update_rows``
and ``among`` do the same for updates and for lookups by composite keys, whose ``IN`` lists
otherwise grow a parameter per key and are compiled and planned again for every batch size.

An array-typed column (``text[]``, ``bigint[]`` ...) cannot be one array of arrays: ``unnest``
flattens a 2-D array, and rows' arrays differ in length. Such a column travels as one JSONB
array per row (``jsonb[]``) and its typed array is rebuilt in the statement, elements in their
order; NULL stays NULL and an empty array stays empty. Its elements must be JSON the engine's
serializer writes and PostgreSQL reads back as the element type (text, numbers, UUIDs, instants).
"""

from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    Update,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    select,
    tuple_,
    types,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import TableValuedAlias

_NOTHING_MORE: Mapping[str, ColumnElement[Any]] = MappingProxyType({})


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


async def upsert_rows(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    insert_only: Sequence[str] = (),
) -> None:
    """Insert rows, or replace the given columns of the stored ones, whatever their version.

    As ``upsert_if_newer``: rows unique by ``key`` and sharing the same columns; columns not
    given, and the ``insert_only`` ones, keep their stored value (or their default on insert).
    """
    if rows:
        statement = _upsert(table, tuple(rows[0]), tuple(key), None, tuple(insert_only))
        await session.execute(statement, _as_columns(rows))


async def update_rows(
    session: AsyncSession,
    table: Table,
    rows: Sequence[dict[str, Any]],
    key: Sequence[str],
    set_also: Mapping[str, ColumnElement[Any]] = _NOTHING_MORE,
) -> None:
    """Give each row found by its ``key`` columns the other values of its dict (rows share
    the same columns, and should be unique by ``key``: a row matched twice gets one of the
    two), and the columns of ``set_also`` their database-side expression (``now()``, NULL).

    The statement is cached by its columns and by the SQL of ``set_also`` (SQLAlchemy's cache
    key of each expression, not the object), so another ``func.now()`` finds it again. An
    expression holding a bound value (``literal(5)``) is added to a copy at each call instead:
    its value is not part of that key.
    """
    if not rows:
        return
    columns = tuple(rows[0])
    if clash := set(set_also) & set(columns):
        raise ValueError(f"columns both given per row and in set_also: {sorted(clash)}")
    if not set_also:
        statement = _update(table, columns, tuple(key), None)
    elif (expressions := _Expressions.of(set_also)) is None:
        statement = _update(table, columns, tuple(key), None).values(dict(set_also))
    else:
        statement = _update(table, columns, tuple(key), expressions)
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


def _given(
    table: Table, columns: tuple[str, ...], suffix: str = ""
) -> tuple[TableValuedAlias, dict[str, ColumnElement[Any]]]:
    """``unnest(CAST(:column<suffix> AS type[]), ...) AS given(columns)``, and each column's
    value as read from it (an array-typed column's rebuilt from its JSONB)."""
    arrays: list[ColumnElement[Any]] = []
    for name in columns:
        array_type = _parameter_type(table.c[name].type)
        arrays.append(cast(bindparam(f"{name}{suffix}", type_=array_type), array_type))
    given: TableValuedAlias = (
        func.unnest(*arrays).table_valued(*columns).render_derived(name="given")
    )
    values = {name: _value(given, name, table.c[name].type) for name in columns}
    return given, values


def _parameter_type(column_type: types.TypeEngine[Any]) -> ARRAY[Any]:
    """The type of a column's one parameter: an array of its values; a JSONB per row for an
    array-typed column (NULL as NULL, not as JSON ``null``)."""
    if isinstance(column_type, types.ARRAY):
        return ARRAY(JSONB(none_as_null=True), dimensions=1)
    return ARRAY(column_type, dimensions=1)  # a JSON list is one value


def _value(
    given: TableValuedAlias, name: str, column_type: types.TypeEngine[Any]
) -> ColumnElement[Any]:
    """``given.name``; for an array-typed column ``CASE WHEN given.name IS NOT NULL THEN
    ARRAY(SELECT CAST(item AS type) FROM jsonb_array_elements_text(given.name) WITH ORDINALITY
    ORDER BY ordinality) END``."""
    value = given.c[name]
    if not isinstance(column_type, types.ARRAY):
        return value
    elements = (
        func.jsonb_array_elements_text(value)
        .table_valued("item", with_ordinality="n")
        .render_derived(name=f"{name}_items")
    )
    items = (
        select(cast(elements.c.item, column_type.item_type))
        .select_from(elements)
        .order_by(elements.c.n)
        .correlate(given)
    )
    return case((value.is_not(None), func.array(items.scalar_subquery(), type_=column_type)))


def _from_arrays(table: Table, columns: tuple[str, ...]) -> Insert:
    """``INSERT INTO table (columns) SELECT given.* FROM unnest(CAST(:column AS type[]), ...)
    AS given(columns)``."""
    given, values = _given(table, columns)
    rows: Select[Any] = select(*(values[name] for name in columns)).select_from(given)
    return pg_insert(table).from_select(list(columns), rows)


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
    version: str | None,
    insert_only: tuple[str, ...],
) -> Insert:
    """ON CONFLICT (key) DO UPDATE of the columns neither key nor insert-only (where the
    stored ``version`` is older, if one is named)."""
    statement = _from_arrays(table, columns)
    kept = key + insert_only
    replaced = {column: statement.excluded[column] for column in columns if column not in kept}
    index = [table.c[column] for column in key]
    if not replaced:
        return statement.on_conflict_do_nothing(index_elements=index)
    return statement.on_conflict_do_update(
        index_elements=index,
        set_=replaced,
        where=None if version is None else table.c[version] < statement.excluded[version],
    )


class _Expressions:
    """``set_also``'s expressions, equal and hashed by their SQL structure: a cache key."""

    def __init__(self, values: Mapping[str, ColumnElement[Any]], shape: tuple[Any, ...]) -> None:
        self.values = values
        self._shape = shape

    @classmethod
    def of(cls, values: Mapping[str, ColumnElement[Any]]) -> "_Expressions | None":
        """None if an expression has a bound value (or no cache key): its SQL says too little."""
        shape = []
        for name, expression in sorted(values.items()):
            cache_key = expression._generate_cache_key()
            if cache_key is None or cache_key.bindparams:
                return None
            shape.append((name, cache_key.key))
        return cls(values, tuple(shape))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Expressions) and self._shape == other._shape

    def __hash__(self) -> int:
        return hash(self._shape)


@lru_cache(maxsize=64)
def _update(
    table: Table, columns: tuple[str, ...], key: tuple[str, ...], also: _Expressions | None
) -> Update:
    """``UPDATE table SET ... FROM unnest(:column_values ...) AS given(columns) WHERE key``."""
    given, values = _given(table, columns, "_values")
    statement = (
        update(table)
        .where(*(table.c[name] == given.c[name] for name in key))
        .values({name: values[name] for name in columns if name not in key})
    )
    return statement if also is None else statement.values(dict(also.values))
