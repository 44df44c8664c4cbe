"""The query parameters every auditor list shares: filters, the cursor, the page size."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query

from shared.events.limits import IDENTIFIER_PATTERN
from shared.http.problems import ProblemError

MAX_PAGE = 1000

LenderQuery = Annotated[
    str | None,
    Query(pattern=IDENTIFIER_PATTERN, description="The lender (required of an auditor of all)."),
]
IdQuery = Annotated[str | None, Query(pattern=IDENTIFIER_PATTERN)]
FromQuery = Annotated[datetime | None, Query(alias="from")]
ToQuery = Annotated[datetime | None, Query(alias="to")]
CursorQuery = Annotated[
    str | None, Query(max_length=20, description="The next_cursor of the previous page.")
]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_PAGE)]
# What an auditor of one lender gets for naming another in ``lender_id``.
OTHER_LENDER: dict[int | str, dict[str, Any]] = {
    404: {"description": "`lender_id` names a lender this auditor's key does not cover"}
}


def cursor_value(cursor: str | None) -> int:
    """The leaf index a page starts after (-1: from the start)."""
    if cursor is None:
        return -1
    if not cursor.isdigit():
        message = "not a cursor this API returned"
        raise ProblemError(
            422,
            "Invalid request",
            message,
            errors=[{"field": "query.cursor", "message": message, "code": "invalid"}],
        )
    return int(cursor)


def next_cursor(rows: Sequence[Mapping[str, Any]], limit: int) -> str | None:
    """The cursor of the page after a full one (pages are in leaf order)."""
    return str(rows[-1]["leaf_index"]) if len(rows) == limit else None
