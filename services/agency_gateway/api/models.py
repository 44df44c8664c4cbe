"""Bodies and answers of the gateway's API."""

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from shared.contact_rules.sources import ACTIVITY_CHANNELS, CHANNEL_ACTIVITIES
from shared.events.assignments import (
    ActivityDirection,
    ActivityOutcome,
    ActivityType,
    UnmetPrerequisite,
)
from shared.events.legal import LegalStage
from shared.events.limits import (
    IDENTIFIER_PATTERN,
    DateTime,
    Identifier,
    Instant,
    storable_note,
    storable_text,
)
from shared.events.money import LenderMoney, Money
from shared.vocabulary import REGION_PATTERN, Jurisdiction, region_error

AssignmentId = Annotated[
    str, Path(pattern=IDENTIFIER_PATTERN, description="The assignment id the gateway gave")
]
Responses = dict[int | str, dict[str, Any]]
ENDED: Responses = {
    410: {
        "description": "The assignment ended (recalled, returned or expired): its borrower "
        "data is gone"
    }
}
"""What every route of one assignment but the list can answer (``responses=``)."""


def repeated(model: type[BaseModel], what: str) -> Responses:
    """The 200 of an idempotent report whose id was recorded before (201: the first time)."""
    return {200: {"model": model, "description": f"This {what} id was recorded before"}}


AgencyId = Annotated[str, Path(pattern=IDENTIFIER_PATTERN, description="The agency's id")]
ShortText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, strip_whitespace=True),
    AfterValidator(storable_text),
]
NoteText = Annotated[
    str, StringConstraints(min_length=1, max_length=2000), AfterValidator(storable_note)
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignmentItem(BaseModel):
    assignment_id: str
    loan_id: str
    status: str = Field(description="placed, acknowledged, recalled, returned or expired")
    amount: Money
    placed_at: datetime
    ack_due_at: datetime
    expires_at: datetime
    acknowledged_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime
    borrower_notified: bool = Field(description="Whether the borrower was told (CN-09).")

    @classmethod
    def of(cls, row: dict[str, Any]) -> "AssignmentItem":
        return cls(
            **{k: row[k] for k in cls.model_fields if k in row and k != "amount"},
            amount=Money.in_minor_units(row["amount"], row["currency"]),
            borrower_notified=row["notice_sent_at"] is not None,
        )


class AssignmentPage(BaseModel):
    items: list[AssignmentItem]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; none at the end."
    )


class Borrower(BaseModel):
    """The minimum an agency needs to reach the borrower."""

    name: str
    phone: str | None
    email: str | None
    timezone: str | None


class AssignmentDetail(AssignmentItem):
    jurisdiction: Jurisdiction
    days_past_due: int
    borrower: Borrower | None = Field(
        description="None until the borrower has been told who holds the account (CN-09), "
        "and once their contact details were erased."
    )
    withheld_reason: str | None = Field(
        description="Why `borrower` is none: `borrower_notice_pending` (not yet told) or "
        "`contact_erased` (erased at the borrower's request or after the loan ended)."
    )


class ActivityReport(_Body):
    activity_id: Identifier = Field(description="The agency's own id: a repeat is a no-op.")
    type: ActivityType
    direction: ActivityDirection
    outcome: ActivityOutcome
    at: DateTime
    recording_id: Identifier | None = None
    staff_count: int | None = Field(default=None, ge=1, le=20, strict=True)
    text: NoteText | None = Field(
        default=None,
        description="A note's text, or what a message said: kept sealed in the gateway, never "
        "published (events carry its keyed hash). Tabs and line breaks are kept; other control "
        "characters are refused.",
    )


class ActivityRecorded(BaseModel):
    activity_id: str
    assignment_id: str
    recorded_at: datetime
    replayed: bool = Field(description="True when this activity id had been recorded before.")


class ReturnRequest(_Body):
    reason: ShortText = "returned by the agency"


DEPRECATED_CHANNEL_WORDS = sorted(set(CHANNEL_ACTIVITIES) - set(ActivityType))
"""The words contact-check took before it spoke the activities' (``phone_call``,
``field_visit``): still accepted, as the activity they name, and marked deprecated."""


class _AlsoDeprecatedChannelWords:
    """An activity type that also accepts the engine's channel words (``phone_call`` is
    ``call``) and documents them as a deprecated alternative."""

    def __get_pydantic_core_schema__(
        self, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(_activity_word, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        deprecated = {
            "type": "string",
            "enum": DEPRECATED_CHANNEL_WORDS,
            "title": "DeprecatedChannelWord",
            "description": "Deprecated: the words this field took before; say "
            + ", ".join(f"{CHANNEL_ACTIVITIES[w].value} for {w}" for w in DEPRECATED_CHANNEL_WORDS)
            + ".",
            "deprecated": True,
        }
        return {"anyOf": [handler(schema), deprecated]}


def _activity_word(value: object) -> object:
    return (
        CHANNEL_ACTIVITIES[value].value
        if isinstance(value, str) and value in CHANNEL_ACTIVITIES
        else value
    )


def _a_contact(kind: ActivityType) -> ActivityType:
    if kind not in ACTIVITY_CHANNELS:
        words = ", ".join(k.value for k in ACTIVITY_CHANNELS)
        raise ValueError(f"a {kind.value} is not a contact: ask about one of {words}")
    return kind


ContactType = Annotated[ActivityType, _AlsoDeprecatedChannelWords(), AfterValidator(_a_contact)]


class ContactCheckRequest(_Body):
    channel: ContactType = Field(
        description="The contact to check, in the activities' words (call, sms, email, letter, "
        "visit; a note is no contact). The words it took before (phone_call, field_visit) are "
        "deprecated aliases of call and visit, still accepted."
    )
    at: DateTime | None = Field(default=None, description="When to contact; default now.")


class ContactCheckAnswer(BaseModel):
    allowed: bool
    rules: list[str]
    explanation: str
    next_allowed_at: datetime | None


class PlacementRecord(BaseModel):
    assignment_id: str
    agency_id: str
    status: str
    arm: str
    policy_version: str
    reason: str
    placed_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    end_policy_version: str | None


MOVABLE_STAGES = [s for s in LegalStage if s is not LegalStage.GRANTED]


class StageMoveRequest(_Body):
    stage: Annotated[
        LegalStage,
        Field(
            description="The stage the loan moves to (granted is where a granted escalation "
            "starts it; only the moves of NEXT_STAGES are made).",
            json_schema_extra={"enum": [s.value for s in MOVABLE_STAGES]},
        ),
    ]
    note: NoteText | None = Field(
        default=None,
        description="Free text, stored sealed; a threat (the packs' banned phrases) is refused.",
    )
    respond_by_days: int | None = Field(
        default=None,
        ge=1,
        le=365,
        strict=True,
        description="demand_sent only: the days the borrower has to respond (default: the "
        "policy's escalation.demand_respond_days).",
    )


class LegalStageChange(BaseModel):
    stage: LegalStage
    at: datetime
    reported_by: str = Field(description="lender or agency")


class LegalStageState(BaseModel):
    stage: LegalStage
    escalation_id: str
    history: list[LegalStageChange] = Field(description="Every change, oldest first.")


class Placement(BaseModel):
    loan_id: str
    status: str
    agency_id: str | None
    days_past_due: int
    placement_threshold_days: int
    amount_overdue: Money
    opened_at: datetime
    as_of: datetime
    policy_version: str
    note: str | None = Field(description="Why the loan is not placed, when it is not.")
    current: PlacementRecord | None
    placements: list[PlacementRecord] = Field(description="Every placement, newest first.")
    legal_stage: LegalStageState | None = Field(
        default=None, description="The loan's legal stage, once an escalation was granted."
    )


class AgencyTerms(_Body):
    name: ShortText
    phone: ShortText | None = None
    jurisdictions: list[Jurisdiction] = Field(min_length=1)
    regions: list[Annotated[str, StringConstraints(pattern=REGION_PATTERN)]] = Field(
        default_factory=list,
        max_length=100,
        description="ISO 3166-2 regions of its jurisdictions it serves (e.g. CN-GD); none: "
        "the whole of them. It gets loans of its regions and loans of no stated region.",
    )
    capacity: int = Field(
        ge=0, le=10_000_000, strict=True, description="Open accounts it can hold."
    )
    share: int = Field(
        ge=0, le=1000, strict=True, description="Allocation weight among eligible agencies."
    )
    webhook_url: Annotated[str, StringConstraints(max_length=500, pattern=r"^https?://")] | None = (
        None
    )
    active: bool = Field(default=True, strict=True)

    @field_validator("regions")
    @classmethod
    def _regions_of_its_jurisdictions(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for region in value:
            error = region_error(region, info.data.get("jurisdictions") or [])
            if error:
                raise ValueError(error)
        return value


class AgencyRequest(AgencyTerms):
    webhook_secret: (
        Annotated[str, StringConstraints(pattern=r"^whsec_[A-Za-z0-9+/]{32,}={0,2}$")] | None
    ) = Field(
        default=None,
        description="Standard Webhooks secret (whsec_ and 24+ random bytes in base64); "
        "stored sealed, never shown again.",
    )


class Agency(AgencyTerms):
    model_config = ConfigDict(extra="ignore")  # read from the row; the sealed secret stays

    agency_id: str
    webhook_secret_set: bool
    created_at: datetime
    updated_at: datetime


class Agencies(BaseModel):
    agencies: list[Agency]


class PromiseRequest(_Body):
    promise_id: Identifier = Field(description="The agency's own id: a repeat is a no-op.")
    amount: LenderMoney
    due_date: date


class PromiseView(BaseModel):
    promise_id: str
    amount: Money
    due_date: date
    recorded_at: datetime
    status: str = Field(description="pending, kept or broken: from the lender's payments")


class AgencyPaymentRequest(_Body):
    payment_id: Identifier = Field(description="The agency's own id: a repeat is a no-op.")
    amount: LenderMoney
    paid_at: Instant


class AgencyPaymentView(BaseModel):
    payment_id: str
    amount: Money
    paid_at: datetime
    recorded_at: datetime
    reconciled_with: str | None = Field(
        description="The lender's payment id it matches; none until the lender records it."
    )


class DisputeRequest(_Body):
    dispute_id: Identifier = Field(description="The agency's own id: a repeat is a no-op.")
    reason: Annotated[
        str, StringConstraints(min_length=1, max_length=500), AfterValidator(storable_text)
    ]


class DisputeView(BaseModel):
    dispute_id: str
    reason: str
    recorded_at: datetime


class Commitments(BaseModel):
    promises: list[PromiseView]
    payments: list[AgencyPaymentView]
    disputes: list[DisputeView]


class EscalationRequest(_Body):
    note: ShortText | None = None


class LenderEscalationRequest(_Body):
    approve: bool = Field(
        default=True, strict=True, description="The lender's approval, recorded first."
    )


class EscalationView(BaseModel):
    escalation_id: str
    assignment_id: str
    requested_by: str
    granted: bool
    unmet: list[UnmetPrerequisite]
    policy_version: str
    decided_at: datetime


class RedeliveryRequest(_Body):
    delivery_ids: list[Identifier] | None = Field(default=None, max_length=500)
    since: Instant | None = Field(default=None, description="Every delivery made since then.")


class Redelivery(BaseModel):
    requeued: int


class WebhookAttempt(BaseModel):
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None


class WebhookDelivery(BaseModel):
    delivery_id: str
    event: str
    assignment_id: str
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    log: list[WebhookAttempt]


class WebhookDeliveries(BaseModel):
    deliveries: list[WebhookDelivery]
