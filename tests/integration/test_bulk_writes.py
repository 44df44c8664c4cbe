"""The batch writers of ``shared.db.bulk`` against real PostgreSQL: every column type the
services use (array-typed ones too) goes through the arrays and comes back as it went in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    Uuid,
    func,
    literal,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.bulk import (
    among,
    among_named,
    insert_new_rows,
    insert_rows,
    key_arrays,
    update_rows,
    upsert_if_newer,
    upsert_rows,
)
from shared.db.engine import SessionFactory, create_engine, create_session_factory, transaction
from tests.infrastructure import TestInfrastructure

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("tenant", Text, nullable=False),
    Column("thing_id", Text, nullable=False),
    Column("event_id", Uuid, nullable=False, unique=True),
    Column("amount", Numeric(20, 4), nullable=False),
    Column("due", Date, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("count", Integer, nullable=False, server_default="0"),
    Column("details", JSONB, nullable=False),
    Column("note", Text),
    Column("blob", LargeBinary),
    PrimaryKeyConstraint("tenant", "thing_id"),
)
lists = Table(
    "lists",
    metadata,
    Column("list_id", Text, primary_key=True),
    Column("tags", ARRAY(Text)),
    Column("numbers", ARRAY(BigInteger), nullable=False, server_default="{}"),
    Column("moments", ARRAY(DateTime(timezone=True))),
    Column("ids", ARRAY(Uuid)),
    Column("note", Text),
    Column("updated_at", DateTime(timezone=True)),
)
NOW = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
KEY = ("tenant", "thing_id")
KEY_COLUMNS = [things.c.tenant, things.c.thing_id]


@pytest.fixture
async def sessions(infrastructure: TestInfrastructure) -> AsyncIterator[SessionFactory]:
    database = f"bulk_{uuid.uuid4().hex[:10]}"
    await infrastructure.create_database(database)
    engine = create_engine(infrastructure.postgres_url(database), pool_size=1)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


def thing(thing_id: str, as_of: datetime = NOW, **changes: Any) -> dict[str, Any]:
    row = {
        "tenant": "t1",
        "thing_id": thing_id,
        "event_id": uuid.uuid4(),
        "amount": Decimal("1250.0050"),
        "due": date(2026, 11, 1),
        "as_of": as_of,
        "details": {"name": "张三", "nested": {"list": [1, "two", None]}},
        "note": None,
        "blob": b"\x00\x01binary",
    }
    return {**row, **changes}


async def stored(session: AsyncSession) -> dict[str, dict[str, Any]]:
    rows = await session.execute(select(things).order_by(things.c.thing_id))
    return {row.thing_id: dict(row._mapping) for row in rows}


async def test_every_column_type_round_trips(sessions: SessionFactory) -> None:
    rows = [
        thing("a", details=[1, "two", {"three": [3]}]),  # a JSON array is not a sub-array
        thing("b", note="a note", blob=None),
        thing("c", details=[]),
    ]
    async with transaction(sessions) as session:
        await insert_rows(session, things, rows)
    async with transaction(sessions) as session:
        found = await stored(session)
    assert list(found) == ["a", "b", "c"]
    for row in rows:
        assert {name: found[row["thing_id"]][name] for name in row} == row
    assert found["a"]["count"] == 0  # columns not given take their default


async def test_an_empty_batch_writes_nothing(sessions: SessionFactory) -> None:
    async with transaction(sessions) as session:
        await insert_rows(session, things, [])
        assert await insert_new_rows(session, things, [], returning="event_id") == []
        await upsert_if_newer(session, things, [], key=("tenant", "thing_id"))
        assert await stored(session) == {}


async def test_conflicting_rows_are_left_out_and_only_new_ones_returned(
    sessions: SessionFactory,
) -> None:
    first = thing("a")
    async with transaction(sessions) as session:
        await insert_rows(session, things, [first])
    again = thing("a", event_id=first["event_id"], note="resubmitted")
    new = thing("b")
    async with transaction(sessions) as session:
        inserted = await insert_new_rows(session, things, [again, new], returning="event_id")
        await insert_rows(session, things, [again], skip_conflicts=True)
        found = await stored(session)
    assert inserted == [new["event_id"]]
    assert found["a"]["note"] is None


async def test_upsert_keeps_the_newest_version_of_each_row(sessions: SessionFactory) -> None:
    async with transaction(sessions) as session:
        await upsert_if_newer(
            session, things, [thing("a", count=1), thing("b", count=1)], key=("tenant", "thing_id")
        )
    later, earlier = NOW + timedelta(days=1), NOW - timedelta(days=1)
    async with transaction(sessions) as session:
        await upsert_if_newer(
            session,
            things,
            [thing("a", later, count=2), thing("b", earlier, count=2), thing("c", count=2)],
            key=("tenant", "thing_id"),
        )
        found = await stored(session)
    assert {key: (row["count"], row["as_of"]) for key, row in found.items()} == {
        "a": (2, later),
        "b": (1, NOW),
        "c": (2, NOW),
    }


async def test_upsert_leaves_insert_only_columns_as_they_were(sessions: SessionFactory) -> None:
    async with transaction(sessions) as session:
        await upsert_if_newer(session, things, [thing("a", note="opened")], key=KEY)
        await upsert_if_newer(
            session,
            things,
            [thing("a", NOW + timedelta(days=1), note="reported again", count=5)],
            key=KEY,
            insert_only=("note",),
        )
        found = await stored(session)
    assert (found["a"]["note"], found["a"]["count"]) == ("opened", 5)


async def test_each_row_gets_its_own_values_in_one_update(sessions: SessionFactory) -> None:
    async with transaction(sessions) as session:
        await insert_rows(session, things, [thing("a"), thing("b"), thing("c")])
        await update_rows(
            session,
            things,
            [
                {"tenant": "t1", "thing_id": "a", "note": "first", "count": 1},
                {"tenant": "t1", "thing_id": "c", "note": None, "count": 3},
                {"tenant": "t1", "thing_id": "zz", "note": "nobody", "count": 9},
            ],
            key=KEY,
        )
        found = await stored(session)
    assert {key: (row["note"], row["count"]) for key, row in found.items()} == {
        "a": ("first", 1),
        "b": (None, 0),
        "c": (None, 3),
    }


async def test_rows_are_found_by_composite_keys_bound_now_or_at_run_time(
    sessions: SessionFactory,
) -> None:
    async with transaction(sessions) as session:
        await insert_rows(session, things, [thing(name) for name in "abcd"])
        keys = [("t1", "b"), ("t1", "d"), ("t2", "a"), ("t1", "nope")]
        now = await session.execute(select(things.c.thing_id).where(among(KEY_COLUMNS, keys)))
        built_once = select(things.c.thing_id).where(among_named(KEY_COLUMNS, "wanted"))
        later = await session.execute(built_once, key_arrays("wanted", keys, 2))
        none = await session.execute(built_once, key_arrays("wanted", [], 2))
    assert sorted(now.scalars()) == sorted(later.scalars()) == ["b", "d"]
    assert list(none.scalars()) == []


AWKWARD = ["b", "a", "", None, 'quo"te', "back\\slash", "{brace}", "a,b", "NULL", "张三", "sp ace"]


async def stored_lists(session: AsyncSession) -> dict[str, dict[str, Any]]:
    rows = await session.execute(select(lists).order_by(lists.c.list_id))
    return {row.list_id: dict(row._mapping) for row in rows}


async def test_array_columns_keep_their_elements_in_order_and_null_apart_from_empty(
    sessions: SessionFactory,
) -> None:
    an_id = uuid.uuid4()
    rows: list[dict[str, Any]] = [
        {
            "list_id": "a",
            "tags": AWKWARD,
            "numbers": [3, 1, 2**40],
            "moments": [NOW],
            "ids": [an_id],
        },
        {"list_id": "b", "tags": [], "numbers": [], "moments": None, "ids": []},
        {"list_id": "c", "tags": None, "numbers": [7], "moments": [], "ids": None},
    ]
    async with transaction(sessions) as session:
        await insert_rows(session, lists, rows[:2])
        assert await insert_new_rows(session, lists, rows[1:], returning="list_id") == ["c"]
    async with transaction(sessions) as session:
        found = await stored_lists(session)
    for row in rows:
        assert {name: found[row["list_id"]][name] for name in row} == row


async def test_array_columns_go_through_upserts_and_updates(sessions: SessionFactory) -> None:
    def tags_and_numbers(found: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {key: (row["tags"], row["numbers"]) for key, row in found.items()}

    async with transaction(sessions) as session:
        await insert_rows(session, lists, [{"list_id": "a", "tags": ["x"]}])  # numbers: default
        await upsert_rows(
            session,
            lists,
            [{"list_id": "a", "tags": ["y", "z"]}, {"list_id": "b", "tags": None}],
            key=("list_id",),
        )
        upserted = tags_and_numbers(await stored_lists(session))
        await update_rows(
            session,
            lists,
            [
                {"list_id": "b", "numbers": [5, 4], "tags": []},
                {"list_id": "a", "numbers": [1], "tags": None},
            ],
            key=("list_id",),
        )
        updated = tags_and_numbers(await stored_lists(session))
    assert upserted == {"a": (["y", "z"], []), "b": (None, [])}
    assert updated == {"a": (None, [1]), "b": ([], [5, 4])}


async def test_upsert_rows_replaces_whatever_the_version(sessions: SessionFactory) -> None:
    later, earlier = NOW + timedelta(days=1), NOW - timedelta(days=1)
    async with transaction(sessions) as session:
        await upsert_rows(session, things, [thing("a", later, note="opened", count=1)], key=KEY)
        await upsert_rows(
            session,
            things,
            [thing("a", earlier, note="again", count=2), thing("b", earlier, note="new", count=0)],
            key=KEY,
            insert_only=("note",),
        )
        found = await stored(session)
    assert {key: (row["as_of"], row["note"], row["count"]) for key, row in found.items()} == {
        "a": (earlier, "opened", 2),
        "b": (earlier, "new", 0),
    }


async def test_upsert_rows_of_keys_only_inserts_the_missing_ones(sessions: SessionFactory) -> None:
    async with transaction(sessions) as session:
        await upsert_rows(session, lists, [{"list_id": "a", "note": "kept"}], key=("list_id",))
        await upsert_rows(
            session,
            lists,
            [{"list_id": "a", "note": "ignored"}, {"list_id": "b", "note": "new"}],
            key=("list_id",),
            insert_only=("note",),
        )
        await upsert_rows(session, lists, [], key=("list_id",))
        found = await stored_lists(session)
    assert {key: row["note"] for key, row in found.items()} == {"a": "kept", "b": "new"}


async def test_an_update_sets_database_side_expressions_too(sessions: SessionFactory) -> None:
    async with transaction(sessions) as session:
        await insert_rows(
            session, lists, [{"list_id": name, "note": "before"} for name in ("a", "b", "c")]
        )
        await update_rows(
            session,
            lists,
            [{"list_id": "a", "tags": ["one"]}, {"list_id": "b", "tags": None}],
            key=("list_id",),
            set_also={"updated_at": func.now(), "note": null()},
        )
        now = (await session.execute(select(func.now()))).scalar_one()
        found = await stored_lists(session)
    assert {key: (row["tags"], row["note"], row["updated_at"]) for key, row in found.items()} == {
        "a": (["one"], None, now),
        "b": (None, None, now),
        "c": (None, "before", None),
    }


async def test_each_call_gets_its_own_expressions_from_one_cached_statement(
    sessions: SessionFactory,
) -> None:
    async with transaction(sessions) as session:
        await insert_rows(session, lists, [{"list_id": "a"}, {"list_id": "b"}])
        for name in ("a", "b"):  # the same columns, the same statement, another expression
            await update_rows(
                session,
                lists,
                [{"list_id": name}],
                key=("list_id",),
                set_also={"note": literal(name)},
            )
        with pytest.raises(ValueError, match="note"):
            await update_rows(
                session, lists, [{"list_id": "a", "note": "x"}], ("list_id",), {"note": null()}
            )
        found = await stored_lists(session)
    assert {key: row["note"] for key, row in found.items()} == {"a": "a", "b": "b"}
