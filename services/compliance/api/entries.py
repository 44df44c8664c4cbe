"""Reading the log: entries by filter, a loan's timeline, the export (auditor role).

Which lender each read covers: ``application/scope.py``.
"""

import base64
import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from services.compliance.api.dependencies import (
    Auditor,
    ConsistentReads,
    Reads,
    Writer,
    own_lender,
)
from services.compliance.api.paging import (
    OTHER_LENDER,
    CursorQuery,
    FromQuery,
    IdQuery,
    LenderQuery,
    LimitQuery,
    ToQuery,
    cursor_value,
    next_cursor,
)
from services.compliance.api.proofs import CheckpointView
from services.compliance.application.errors import LoanNotFoundError
from services.compliance.application.ports import EntryFilter, EntryRow
from services.compliance.application.scope import lender_in_scope
from shared.http.params import LoanId

router = APIRouter(prefix="/v1", tags=["audit log"])

EXPORT_PAGE = 1000  # entries read per query while an export streams


class EntryView(BaseModel):
    leaf_index: int
    leaf_hash: str = Field(description="Hex SHA-256(0x00 ‖ canonical bytes).")
    canonical: str = Field(description="The entry's canonical bytes, base64: what the leaf hashes.")
    event_id: UUID
    type: str
    lender_id: str
    loan_id: str | None
    agency_id: str | None
    time: datetime
    recorded_at: datetime
    entry: dict[str, Any] = Field(description="The canonical bytes, parsed.")


class EntryPage(BaseModel):
    entries: list[EntryView]
    next_cursor: str | None = Field(description="Pass as ``cursor`` for the next page.")


class Timeline(BaseModel):
    loan_id: str
    lender_id: str
    entries: list[EntryView]


def entry_view(row: EntryRow) -> EntryView:
    canonical = bytes(row["entry"])
    return EntryView(
        leaf_index=row["leaf_index"],
        leaf_hash=bytes(row["leaf_hash"]).hex(),
        canonical=base64.b64encode(canonical).decode(),
        event_id=row["event_id"],
        type=row["event_type"],
        lender_id=row["tenant_id"],
        loan_id=row["loan_id"],
        agency_id=row["agency_id"],
        time=row["event_time"],
        recorded_at=row["recorded_at"],
        entry=orjson.loads(canonical),
    )


@router.get(
    "/audit/entries",
    summary="Log entries by loan, agency, type and time, in log order",
    responses=OTHER_LENDER,
)
async def list_entries(
    auditor: Auditor,
    reads: Reads,
    lender_id: LenderQuery = None,
    loan_id: IdQuery = None,
    agency_id: IdQuery = None,
    event_type: Annotated[
        str | None, Query(alias="type", max_length=200, description="An event type.")
    ] = None,
    time_from: FromQuery = None,
    time_to: ToQuery = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 100,
) -> EntryPage:
    where = EntryFilter(
        lender_id=lender_in_scope(
            own_lender(auditor), lender_id, naming_a_loan=loan_id is not None
        ),
        loan_id=loan_id,
        agency_id=agency_id,
        event_type=event_type,
        time_from=time_from,
        time_to=time_to,
        after_index=cursor_value(cursor),
    )
    async with reads() as read:
        rows = await read.log.entries(where, limit)
    return EntryPage(
        entries=[entry_view(row) for row in rows],
        next_cursor=next_cursor(rows, limit),
    )


@router.get("/loans/{loan_id}/timeline", summary="Everything the log holds of a loan, in order")
async def loan_timeline(
    loan_id: LoanId, auditor: Auditor, reads: Reads, lender_id: LenderQuery = None
) -> Timeline:
    lender = lender_in_scope(own_lender(auditor), lender_id, naming_a_loan=True)
    assert lender is not None  # naming a loan, a lender is always known here
    async with reads() as read:
        rows = await read.log.timeline(lender, loan_id)
    if not rows:
        raise LoanNotFoundError(f"No audit entry names loan {loan_id!r}.")
    return Timeline(loan_id=loan_id, lender_id=lender, entries=[entry_view(row) for row in rows])


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


CSV_COLUMNS = ("leaf_index", "leaf_hash", "canonical", "event_id", "type", "lender_id", "loan_id")


@router.get(
    "/audit/export",
    summary="The log (the auditor's lender's part of it) as JSON lines or CSV, with its checkpoint",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}, **OTHER_LENDER},
)
async def export_entries(
    auditor: Auditor,
    consistent_reads: ConsistentReads,
    writer: Writer,
    export_format: Annotated[ExportFormat, Query(alias="format")] = ExportFormat.JSONL,
    lender_id: LenderQuery = None,
) -> StreamingResponse:
    """The entries of the checkpoint taken when the export starts, in log order. JSON lines:
    the first line is ``{"checkpoint": {...}}``, then one entry per line. CSV: one row per
    entry; the checkpoint's signed note is in the ``Audit-Checkpoint`` header (base64)."""
    lender = lender_in_scope(own_lender(auditor), lender_id, naming_a_loan=False)
    async with consistent_reads() as read:
        signed = await writer.latest(read.log, read.checkpoints)
    head = CheckpointView.of(signed)

    async def pages() -> AsyncIterator[list[EntryRow]]:
        after = -1
        while True:
            async with consistent_reads() as read:
                rows = await read.log.entries(
                    EntryFilter(lender_id=lender, after_index=after), EXPORT_PAGE
                )
            rows = [row for row in rows if row["leaf_index"] < signed.tree_size]
            if not rows:
                return
            yield rows
            after = rows[-1]["leaf_index"]

    async def jsonl() -> AsyncIterator[bytes]:
        yield orjson.dumps({"checkpoint": head.model_dump(mode="json")}) + b"\n"
        async for rows in pages():
            yield b"".join(
                orjson.dumps(entry_view(row).model_dump(mode="json")) + b"\n" for row in rows
            )

    async def csv_rows() -> AsyncIterator[str]:
        yield ",".join(CSV_COLUMNS) + "\r\n"
        async for rows in pages():
            buffer = io.StringIO()
            out = csv.writer(buffer)
            for row in rows:
                view = entry_view(row)
                out.writerow([getattr(view, column) for column in CSV_COLUMNS])
            yield buffer.getvalue()

    headers = {
        "Audit-Checkpoint": base64.b64encode(signed.note.encode()).decode(),
        "Audit-Tree-Size": str(signed.tree_size),
    }
    if export_format is ExportFormat.CSV:
        return StreamingResponse(csv_rows(), media_type="text/csv", headers=headers)
    return StreamingResponse(jsonl(), media_type="application/x-ndjson", headers=headers)
