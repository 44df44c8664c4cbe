"""Agencies' reported activities, kept once per agency's own activity id.

An activity's free text is personal data: it is stored sealed under the gateway's data key
ring, bound to the agency and activity ids (``text_sealed``), never in the report's JSON and
never in an event; events carry its keyed hash (:meth:`ActivityTexts.digest`). Erasing a text
is setting its column to null; key rotation re-seals it (``reseal``).
"""

import base64
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import null, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.agency_gateway.adapters.tables import activities, assignments
from shared.crypto import KeyRing, SealedValue
from shared.db.bulk import among
from shared.db.reseal import ResealJob, SealedColumn

TEXT = SealedColumn(activities, "text_sealed", bound_to=("agency_id", "activity_id"))
UNSEALED = "unsealed"
"""The key id of a text recorded before texts were sealed, moved out of the report's JSON by
migration 0013 as base64 (the reseal command seals it)."""
PURPOSE = b"agency gateway activity text"


@dataclass(frozen=True)
class ActivityTexts:
    ring: KeyRing  # the gateway's data key ring

    def __post_init__(self) -> None:
        if UNSEALED in self.ring.keys:
            raise ValueError(f"data_keys: the key id {UNSEALED!r} is reserved")

    def seal(self, text: str, row: Mapping[str, Any]) -> dict[str, str]:
        return TEXT.seal(self.ring, text.encode(), row)

    def open(self, row: Mapping[str, Any]) -> str | None:
        """The stored text of ``row`` (raises DecryptionError); None if none or erased."""
        if row[TEXT.name] is None:
            return None
        return self._open(TEXT, row).decode()

    def digest(self, text: str) -> str:
        """The keyed hash events carry instead of the text."""
        return self.ring.keyed_hash(text.encode(), PURPOSE)

    def reseal_job(self) -> ResealJob:
        return ResealJob(TEXT, self.ring, opener=self._open)

    def _open(self, column: SealedColumn, row: Mapping[str, Any]) -> bytes:
        stored = SealedValue.model_validate(row[column.name])
        if stored.kid == UNSEALED:
            return base64.b64decode(stored.ct)
        return column.open(self.ring, row)


class ActivityLog:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """Record the activity; None if it was recorded already, else the stored row."""
        inserted = await self._session.execute(
            pg_insert(activities).values(row).on_conflict_do_nothing().returning(activities)
        )
        found = inserted.first()
        return dict(found._mapping) if found else None

    async def get(self, agency_id: str, activity_id: str) -> dict[str, Any]:
        row = (
            await self._session.execute(
                select(activities).where(
                    activities.c.agency_id == agency_id, activities.c.activity_id == activity_id
                )
            )
        ).one()
        return dict(row._mapping)

    async def of_assignments(self, assignment_ids: Collection[str]) -> list[dict[str, Any]]:
        """The activities recorded on the assignments, without their texts, oldest first."""
        if not assignment_ids:
            return []
        rows = await self._session.execute(
            select(
                activities.c.agency_id,
                activities.c.activity_id,
                activities.c.assignment_id,
                activities.c.body,
                activities.c.recorded_at,
            )
            .where(activities.c.assignment_id.in_(list(assignment_ids)))
            .order_by(activities.c.recorded_at, activities.c.activity_id)
        )
        return [dict(r._mapping) for r in rows]

    async def erase_texts(self, keys: Collection[tuple[str, str]]) -> None:
        """The texts of every activity on the loans' assignments erased (the records stay)."""
        if not keys:
            return
        of_loans = select(assignments.c.assignment_id).where(
            among([assignments.c.lender_id, assignments.c.loan_id], keys)
        )
        await self._session.execute(
            update(activities)
            .where(activities.c.assignment_id.in_(of_loans), activities.c.text_sealed.is_not(None))
            .values(text_sealed=null())
        )
