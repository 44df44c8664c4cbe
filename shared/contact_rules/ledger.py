"""The contact ledger: every party's contacts with a borrower, counted per person per debt."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shared.contact_rules.clock import utc
from shared.vocabulary import Channel


class PartyKind(StrEnum):
    LENDER = "lender"
    AGENCY = "agency"


@dataclass(frozen=True, slots=True)
class Party:
    """Who made (or received) a contact: the lender itself or one agency."""

    kind: PartyKind
    agency_id: str | None = None

    def __post_init__(self) -> None:
        if (self.kind is PartyKind.AGENCY) != (self.agency_id is not None):
            raise ValueError("an agency party needs an agency_id; the lender has none")

    @classmethod
    def lender(cls) -> Party:
        return cls(PartyKind.LENDER)

    @classmethod
    def agency(cls, agency_id: str) -> Party:
        return cls(PartyKind.AGENCY, agency_id)

    def __str__(self) -> str:
        return "lender" if self.agency_id is None else f"agency {self.agency_id}"


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class Outcome(StrEnum):
    """How far a contact got: placed, delivered (a message), answered (a call), a conversation."""

    ATTEMPTED = "attempted"
    DELIVERED = "delivered"
    ANSWERED = "answered"
    CONVERSATION = "conversation"


POSSIBLE_OUTCOMES: dict[Channel, tuple[Outcome, ...]] = {
    Channel.PHONE_CALL: (Outcome.ATTEMPTED, Outcome.ANSWERED, Outcome.CONVERSATION),
    Channel.SMS: (Outcome.ATTEMPTED, Outcome.DELIVERED),
    Channel.EMAIL: (Outcome.ATTEMPTED, Outcome.DELIVERED),
    Channel.LETTER: (Outcome.ATTEMPTED, Outcome.DELIVERED),
    Channel.FIELD_VISIT: (Outcome.ATTEMPTED, Outcome.CONVERSATION),
}
"""The outcomes a channel can have; ``check`` weighs every one, since it decides beforehand."""

REACHED = frozenset({Outcome.DELIVERED, Outcome.ANSWERED, Outcome.CONVERSATION})
CONNECTED = frozenset({Outcome.ANSWERED, Outcome.CONVERSATION})


class Recipient(StrEnum):
    DEBTOR = "debtor"
    THIRD_PARTY = "third_party"


class ThirdPartyRelation(StrEnum):
    SPOUSE = "spouse"
    PARENT_OF_MINOR = "parent_of_minor"
    GUARDIAN = "guardian"
    EXECUTOR = "executor"
    ATTORNEY = "attorney"
    CREDIT_BUREAU = "credit_bureau"
    CREDITOR = "creditor"
    EMERGENCY_CONTACT = "emergency_contact"
    OTHER = "other"


class Purpose(StrEnum):
    """Why a contact is made; a few notices stay lawful where collecting does not."""

    COLLECTION = "collection"
    VALIDATION_NOTICE = "validation_notice"
    VERIFICATION = "verification"
    CEASE_CONFIRMATION = "cease_confirmation"


@dataclass(frozen=True, slots=True)
class Contact:
    """One contact in the ledger, or one that a party intends to make.

    ``debt_id`` and ``person_ref`` (the borrower's pseudonym) key every count; a conversation
    that also discussed other debts of the same person names them in ``also_discussed`` and
    counts for each. Flags that only the party can report (``agency_named``,
    ``debt_disclosed``, ``opt_out_notice``, ``threatens_suit``) are ``None`` when not reported:
    only a reported breach is evidence.
    """

    id: str
    debt_id: str
    person_ref: str
    party: Party
    channel: Channel
    at: datetime
    direction: Direction = Direction.OUTBOUND
    outcome: Outcome = Outcome.ATTEMPTED
    purpose: Purpose = Purpose.COLLECTION
    recipient: Recipient = Recipient.DEBTOR
    third_party_ref: str | None = None
    third_party_relation: ThirdPartyRelation | None = None
    location_inquiry: bool = False
    also_discussed: frozenset[str] = field(default_factory=frozenset)
    recording_id: str | None = None
    staff_count: int | None = None
    autodialed: bool = False
    to_mobile: bool = False
    text: str | None = None
    agency_named: bool | None = None
    debt_disclosed: bool | None = None
    opt_out_notice: bool | None = None
    threatens_suit: bool | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", utc(self.at, f"contact {self.id}"))
        if self.outcome not in POSSIBLE_OUTCOMES[self.channel]:
            raise ValueError(f"contact {self.id}: a {self.channel} cannot be {self.outcome}")
        if self.recipient is Recipient.THIRD_PARTY and self.third_party_ref is None:
            raise ValueError(f"contact {self.id}: a third-party contact names third_party_ref")

    @property
    def outbound(self) -> bool:
        return self.direction is Direction.OUTBOUND

    def concerns(self, person_ref: str, debt_id: str) -> bool:
        """True when this contact counts for this person's debt."""
        return self.person_ref == person_ref and (
            self.debt_id == debt_id or debt_id in self.also_discussed
        )


def history_of(contact: Contact, ledger: Iterable[Contact]) -> tuple[Contact, ...]:
    """The contacts that count for ``contact``: same person and debt, not later, oldest first.

    A contact at the same instant counts (two calls at once are two calls); the contact itself,
    recognised by its id, does not.
    """
    person, debt, at, own = contact.person_ref, contact.debt_id, contact.at, contact.id
    selected = [
        entry
        for entry in ledger
        if entry.at <= at
        and entry.id != own
        and entry.person_ref == person
        and (entry.debt_id == debt or debt in entry.also_discussed)
    ]
    selected.sort(key=_at)
    return tuple(selected)


def _at(contact: Contact) -> datetime:
    return contact.at
