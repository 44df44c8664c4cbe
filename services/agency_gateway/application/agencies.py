"""The agency registry's use cases (operator role): register or replace an agency, read them.

An agency's jurisdictions, capacity and share steer placement from the next decision on; its
webhook secret is stored sealed and never shown again.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.agency_gateway.application.errors import AgencyNotFoundError
from services.agency_gateway.application.ports import Clock, Row, UnitOfWork, utc_now

SecretSealer = Callable[[str, str], dict[str, str]]  # (agency id, secret) -> sealed value


@dataclass(frozen=True)
class AgencyHandlers:
    unit_of_work: Callable[[], UnitOfWork]
    seal_secret: SecretSealer
    clock: Clock = field(default=utc_now)

    async def put(
        self, agency_id: str, terms: dict[str, Any], secret: str | None
    ) -> tuple[Row, bool]:
        """The agency as stored, and whether it is new."""
        sealed = self.seal_secret(agency_id, secret) if secret is not None else None
        async with self.unit_of_work() as uow:
            fields = terms | {"webhook_secret_sealed": sealed}
            created = await uow.agencies.put(agency_id, fields, self.clock())
            row = await uow.agencies.get(agency_id)
            await uow.commit()
        assert row is not None  # written in the same transaction
        return row, created

    async def all(self) -> list[Row]:
        async with self.unit_of_work() as uow:
            return await uow.agencies.all()

    async def get(self, agency_id: str) -> Row:
        async with self.unit_of_work() as uow:
            row = await uow.agencies.get(agency_id)
        if row is None:
            raise AgencyNotFoundError(f"No agency {agency_id!r} is registered.")
        return row
