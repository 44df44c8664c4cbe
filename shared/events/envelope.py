"""The one envelope every event travels in: CloudEvents 1.0 plus a schema version and tenant."""

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from shared.events.limits import DateTime

CONTENT_TYPE = "application/cloudevents+json"


class Envelope(BaseModel):
    """A CloudEvents 1.0 event in structured mode, about ``subject`` (a loan id) of a tenant."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: UUID
    source: str = Field(description="The service that produced it, e.g. /collections/intake.")
    type: str
    time: DateTime
    subject: str = Field(description="The loan id (a borrower's pseudonym for preferences).")
    datacontenttype: Literal["application/json"] = "application/json"
    schemaversion: int = Field(ge=1, description="Version of the data schema of this type.")
    tenantid: str = Field(description="The lender the loan belongs to.")
    data: dict[str, Any]

    @property
    def key(self) -> str:
        """The Kafka message key: tenant and subject, so one loan's events share a partition
        and stay in order, and two lenders' loans of one id are two keys."""
        return message_key(self.tenantid, self.subject)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


def message_key(tenant: str, subject: str) -> str:
    """``tenant/subject``; identifiers never hold a ``/``."""
    return f"{tenant}/{subject}"


def new_envelope(
    *,
    type_name: str,
    schema_version: int,
    source: str,
    subject: str,
    tenant: str,
    data: BaseModel,
    event_id: UUID | None = None,
    time: datetime | None = None,
) -> Envelope:
    return Envelope(
        id=event_id or uuid4(),
        source=source,
        type=type_name,
        time=time or datetime.now(UTC),
        subject=subject,
        schemaversion=schema_version,
        tenantid=tenant,
        data=data.model_dump(mode="json"),
    )
