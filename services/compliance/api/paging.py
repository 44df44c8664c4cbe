"""The query parameters every auditor list shares: filters, the cursor, the page size."""

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import Query

from shared.events.limits import IDENTIFIER_PATTERN, DateTime

MAX_PAGE = 1000

LenderQuery = Annotated[
    str | None,
    Query(pattern=IDENTIFIER_PATTERN, description="The lender (required of an auditor of all)."),
]
IdQuery = Annotated[str | None, Query(pattern=IDENTIFIER_PATTERN)]
FromQuery = Annotated[DateTime | None, Query(alias="from", description="RFC 3339, with offset.")]
ToQuery = Annotated[DateTime | None, Query(alias="to", description="RFC 3339, with offset.")]
CURSOR_PATTERN = r"^(0|[1-9][0-9]{0,17})$"
"""A leaf index as this API writes it: ASCII digits that fit a PostgreSQL bigint."""
CursorQuery = Annotated[
    str | None,
    Query(pattern=CURSOR_PATTERN, description="The next_cursor of the previous page."),
]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_PAGE)]
# What an auditor of one lender gets for naming another in ``lender_id``.
OTHER_LENDER: dict[int | str, dict[str, Any]] = {
    404: {"description": "`lender_id` names a lender this auditor's key does not cover"}
}


def cursor_value(cursor: str | None) -> int:
    """The leaf index a page starts after (-1: from the start); the query checked the
    cursor's pattern (``str.isdigit`` would take superscripts and other digits)."""
    return -1 if cursor is None else int(cursor)


def next_cursor(rows: Sequence[Mapping[str, Any]], limit: int) -> str | None:
    """The cursor of the page after a full one (pages are in leaf order)."""
    return str(rows[-1]["leaf_index"]) if len(rows) == limit else None
