"""What ``collections reseal notifier`` re-seals under the first key of ``NOTIFIER_DATA_KEYS``:
the stored contact details (see :mod:`shared.db.reseal`)."""

from services.notifier.adapters.contact_details import CONTACT
from services.notifier.settings import NotifierSettings
from shared.db.reseal import ResealJob


def reseal_jobs(settings: NotifierSettings) -> list[ResealJob]:
    return [ResealJob(CONTACT, settings.data_key_ring())]
