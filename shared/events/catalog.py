"""Every event type: its name, schema version, topic and data model (the single source of truth).

JSON Schema and the AsyncAPI document are generated from this catalogue.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.crypto import SealedValue
from shared.events.envelope import Envelope, new_envelope
from shared.events.money import Money
from shared.events.topics import Topic


class BorrowerContact(BaseModel):
    """Personal data: only ever at rest or in transit sealed (see ``SealedValue``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    phone: str | None = None
    email: str | None = None


class BorrowerProfile(BaseModel):
    """What events say of a borrower: a pseudonym for everyone, contact details sealed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ref: str = Field(description="Keyed-hash pseudonym; the only borrower id compliance sees.")
    contact: SealedValue = Field(description="BorrowerContact as JSON, AES-GCM sealed.")
    locale: str
    timezone: str


class OverdueReported(BaseModel):
    """A lender reported that a loan is past due (the first report or an update)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    loan_id: str
    borrower: BorrowerProfile
    jurisdiction: str
    product: str
    amount_overdue: Money
    due_date: date
    days_past_due: int
    as_of: AwareDatetime


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    topic: Topic
    model: type[BaseModel]
    summary: str

    def envelope(
        self,
        *,
        source: str,
        subject: str,
        tenant: str,
        data: BaseModel,
        event_id: UUID | None = None,
    ) -> Envelope:
        if not isinstance(data, self.model):
            raise TypeError(f"{self.name} carries {self.model.__name__}")
        return new_envelope(
            type_name=self.name,
            schema_version=self.version,
            source=source,
            subject=subject,
            tenant=tenant,
            data=data,
            event_id=event_id,
        )

    def parse(self, envelope: Envelope) -> Any:
        """The typed data of an envelope of this type; raises if it does not fit the schema."""
        if envelope.schemaversion != self.version:
            raise ValueError(f"{self.name} v{envelope.schemaversion} is not understood here")
        return self.model.model_validate(envelope.data)


OVERDUE_REPORTED = EventType(
    name="collections.loan.overdue-reported",
    version=1,
    topic=Topic.DELINQUENCY,
    model=OverdueReported,
    summary="A lender reported an overdue loan, or an update of one.",
)

EVENT_TYPES: dict[str, EventType] = {event.name: event for event in (OVERDUE_REPORTED,)}


def event_type_named(name: str) -> EventType | None:
    return EVENT_TYPES.get(name)


def latest_reports(envelopes: Sequence[Envelope]) -> list[tuple[Envelope, OverdueReported]]:
    """The newest overdue report per (lender, loan) among ``envelopes`` (others are ignored).

    Consumers upsert one row per loan per batch, and a batch may hold several reports of one
    loan; the newest ``as_of`` wins, as it would have one at a time.
    """
    newest: dict[tuple[str, str], tuple[Envelope, OverdueReported]] = {}
    for envelope in envelopes:
        if envelope.type != OVERDUE_REPORTED.name:
            continue
        report = OVERDUE_REPORTED.parse(envelope)
        key = (envelope.tenantid, report.loan_id)
        if key not in newest or report.as_of > newest[key][1].as_of:
            newest[key] = (envelope, report)
    return list(newest.values())
