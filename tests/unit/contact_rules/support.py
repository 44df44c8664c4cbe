"""Builders for contacts and facts, so each test states only what it is about."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

from shared.contact_rules import (
    Contact,
    DebtFacts,
    Direction,
    Outcome,
    Party,
    Placement,
    RulePack,
    ValidationNotice,
    load_pack,
)
from shared.vocabulary import Channel, Jurisdiction

DEBT, PERSON = "loan-1", "person-1"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
LENDER = Party.lender()
AGENCY = Party.agency("agency-a")
OTHER_AGENCY = Party.agency("agency-b")
EARLY = datetime(2025, 1, 1, tzinfo=SHANGHAI)

CN: RulePack = load_pack(Jurisdiction.CN)
US: RulePack = load_pack(Jurisdiction.US)

_ids = count(1)


def at(text: str, tz: ZoneInfo) -> datetime:
    """``"2026-03-08 09:30"`` as an aware time in ``tz``."""
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def contact(
    when: datetime,
    channel: Channel = Channel.PHONE_CALL,
    party: Party = LENDER,
    outcome: Outcome = Outcome.ATTEMPTED,
    **fields: Any,
) -> Contact:
    fields.setdefault("id", f"c{next(_ids)}")
    fields.setdefault("debt_id", DEBT)
    fields.setdefault("person_ref", PERSON)
    return Contact(party=party, channel=channel, at=when, outcome=outcome, **fields)


def inbound(when: datetime, party: Party = AGENCY, **fields: Any) -> Contact:
    return contact(
        when, party=party, direction=Direction.INBOUND, outcome=Outcome.CONVERSATION, **fields
    )


def cn_facts(**fields: Any) -> DebtFacts:
    """A Chinese debt placed with ``AGENCY`` and announced to the borrower long ago."""
    fields.setdefault("placements", (Placement("agency-a", EARLY, borrower_notified_at=EARLY),))
    fields.setdefault("borrower_zone", "Asia/Shanghai")
    return DebtFacts(DEBT, PERSON, Jurisdiction.CN, **fields)


def us_facts(zone: str = "America/New_York", **fields: Any) -> DebtFacts:
    """A US debt whose agency sent its validation notice long ago."""
    fields.setdefault("validation_notices", (ValidationNotice("agency-a", EARLY),))
    fields.setdefault("placements", (Placement("agency-a", EARLY, borrower_notified_at=EARLY),))
    return DebtFacts(DEBT, PERSON, Jurisdiction.US, zone, us_state="NY", **fields)


def moved(c: Contact, when: datetime) -> Contact:
    return replace(c, at=when)
