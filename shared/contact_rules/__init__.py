"""The contact-rules engine: pure code that decides before a contact and judges after it.

``check`` and ``judge`` evaluate the same rules of a versioned pack against the contact ledger
of every party collecting the same debt (the lender and each agency), counted per person per
debt, in the borrower's time zone. See ``README.md`` beside this file.
"""

from shared.contact_rules.engine import Decision, Violation, check, judge, judge_ledger
from shared.contact_rules.facts import (
    DebtFacts,
    Dispute,
    DisputeKind,
    Hold,
    OptOut,
    Placement,
    ThirdPartyObjection,
    ValidationNotice,
)
from shared.contact_rules.ledger import (
    Contact,
    Direction,
    Outcome,
    Party,
    PartyKind,
    Purpose,
    Recipient,
    ThirdPartyRelation,
)
from shared.contact_rules.packs import (
    PackError,
    Rule,
    RulePack,
    RuleStatus,
    load_overlay_file,
    load_pack,
    load_pack_file,
    tighten,
)
from shared.contact_rules.rules import Finding
from shared.contact_rules.rules.agency import validation_period_end

__all__ = [
    "Contact",
    "DebtFacts",
    "Decision",
    "Direction",
    "Dispute",
    "DisputeKind",
    "Finding",
    "Hold",
    "OptOut",
    "Outcome",
    "PackError",
    "Party",
    "PartyKind",
    "Placement",
    "Purpose",
    "Recipient",
    "Rule",
    "RulePack",
    "RuleStatus",
    "ThirdPartyObjection",
    "ThirdPartyRelation",
    "ValidationNotice",
    "Violation",
    "check",
    "judge",
    "judge_ledger",
    "load_overlay_file",
    "load_pack",
    "load_pack_file",
    "tighten",
    "validation_period_end",
]
