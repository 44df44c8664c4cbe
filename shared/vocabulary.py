"""The platform's shared vocabulary: each fact defined once, imported everywhere else."""

from collections.abc import Iterable
from enum import StrEnum


class Jurisdiction(StrEnum):
    """Whose collection rules apply to a loan (a rule pack exists for each)."""

    CN = "CN"
    US = "US"


# A subdivision of a jurisdiction, ISO 3166-2 (CN-GD: Guangdong, US-CA: California).
REGION_PATTERN = r"^[A-Z]{2}-[A-Z0-9]{1,3}$"


def region_error(region: str, jurisdictions: Iterable[str]) -> str | None:
    """Why ``region`` cannot be one of these jurisdictions' regions, or None."""
    country = region.partition("-")[0]
    if country not in jurisdictions:
        return f"{region} is not a region of {', '.join(sorted(jurisdictions))}"
    return None


class Channel(StrEnum):
    """A way of contacting a borrower, by the lender's notifier or by an agency."""

    SMS = "sms"
    EMAIL = "email"
    PHONE_CALL = "phone_call"
    LETTER = "letter"
    FIELD_VISIT = "field_visit"
