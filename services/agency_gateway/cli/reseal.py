"""What ``collections reseal agency_gateway`` re-seals under the first key of
``AGENCY_GATEWAY_DATA_KEYS``: the stored contacts, agencies' activity texts, the legal stage's
notes and webhook secrets (see :mod:`shared.db.reseal`)."""

from services.agency_gateway.adapters.activities import ActivityTexts
from services.agency_gateway.adapters.legal import NOTE
from services.agency_gateway.adapters.webhooks import SECRET
from services.agency_gateway.settings import AgencyGatewaySettings
from services.agency_gateway.wiring import contact_keys
from shared.db.reseal import ResealJob


def reseal_jobs(settings: AgencyGatewaySettings) -> list[ResealJob]:
    """Every sealed column of the gateway, each with the ring (and opener) it needs."""
    keys = contact_keys(settings)
    return [
        keys.reseal_job(),
        ActivityTexts(keys.storage).reseal_job(),
        ResealJob(NOTE, keys.storage),
        ResealJob(SECRET, keys.storage),
    ]
