"""The platform's shared vocabulary: each fact defined once, imported everywhere else."""

from enum import StrEnum


class Jurisdiction(StrEnum):
    """Whose collection rules apply to a loan (a rule pack exists for each)."""

    CN = "CN"
    US = "US"


class Channel(StrEnum):
    """A way of contacting a borrower, by the lender's notifier or by an agency."""

    SMS = "sms"
    EMAIL = "email"
    PHONE_CALL = "phone_call"
    LETTER = "letter"
    FIELD_VISIT = "field_visit"
