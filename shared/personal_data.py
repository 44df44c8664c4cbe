"""What the law lets a service keep of a borrower's data, why, and until when: written once.

A borrower may ask for their data to be erased (PIPL art. 47). What no law requires is erased;
records the law requires are kept for their period, holding no plaintext, and a deletion answer
names each with its legal basis. Every service that answers a data request asks here, so the
notifier, the gateway and compliance give the same reasons and the same dates.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.contact_rules.packs import load_pack
from shared.contact_rules.params import RetentionParams
from shared.vocabulary import Jurisdiction

RECORD_RETENTION_RULES: dict[Jurisdiction, str] = {
    Jurisdiction.CN: "CN-08",
    Jurisdiction.US: "US-11",
}
"""The rule of each jurisdiction's pack that says how long collection records are kept."""


class KeepingBasis(StrEnum):
    """Why a category of data survives a deletion request."""

    DEBT_OWED = "debt_owed"
    COLLECTION_RECORDS = "collection_records"


@dataclass(frozen=True)
class Keeping:
    basis: KeepingBasis
    legal_basis: str  # the words a borrower reads: the rule id and its source
    until: datetime | None  # None: as long as the debt is owed (then the retention period)


def debt_owed() -> Keeping:
    """Contact details while the debt is still owed: erasing them would end a contract the
    borrower has not performed (PIPL art. 13(2)); they are erased once the loan ends."""
    return Keeping(
        KeepingBasis.DEBT_OWED,
        "PIPL art. 13(2): needed to perform the loan contract while the debt is owed; "
        "erased once the loan is closed, cured or recalled",
        None,
    )


def collection_records(jurisdiction: Jurisdiction, last_activity: datetime) -> Keeping:
    """Records of contacts made (without plaintext), kept the jurisdiction's period after the
    last collection activity: CN-08 five years, US-11 three (from the rule packs)."""
    rule = load_pack(jurisdiction).rule(RECORD_RETENTION_RULES[jurisdiction])
    if not isinstance(rule.params, RetentionParams):
        raise TypeError(f"{rule.id} has no retention period")
    return Keeping(
        KeepingBasis.COLLECTION_RECORDS,
        f"{rule.id}: {rule.title} ({rule.source}); kept without names, numbers or addresses",
        _years_after(last_activity, int(rule.params.retention_years)),
    )


def _years_after(moment: datetime, years: int) -> datetime:
    """The same day ``years`` later (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)
