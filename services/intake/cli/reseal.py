"""What ``collections reseal intake`` re-seals under the first key of ``INTAKE_DATA_KEYS``: the
loans' contact details, disputes' details and lenders' notes, and the data requests' answers
(see :mod:`shared.db.reseal` and ``adapters/sealed_columns.py``)."""

from services.intake.adapters.sealed_columns import SEALED_COLUMNS
from services.intake.settings import IntakeSettings
from shared.crypto import KeyRing
from shared.db.reseal import ResealJob


def reseal_jobs(settings: IntakeSettings) -> list[ResealJob]:
    ring = KeyRing.from_secret(settings.data_keys)
    return [ResealJob(column, ring) for column in SEALED_COLUMNS]
