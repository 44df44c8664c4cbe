"""``python -m services.agency_gateway.cli.reseal [--batch-size N] [--status]``: re-seal the stored
contacts, agencies' activity texts, the legal stage's notes and webhook secrets under the first
key of ``AGENCY_GATEWAY_DATA_KEYS`` (see :mod:`shared.db.reseal`)."""

import asyncio
import sys

from services.agency_gateway.adapters.activities import ActivityTexts
from services.agency_gateway.adapters.legal import NOTE
from services.agency_gateway.adapters.webhooks import SECRET
from services.agency_gateway.settings import AgencyGatewaySettings
from services.agency_gateway.wiring import contact_keys
from shared.db.engine import create_engine
from shared.db.reseal import ResealJob
from shared.db.reseal_command import run_command

if __name__ == "__main__":
    settings = AgencyGatewaySettings()
    keys = contact_keys(settings)
    engine = create_engine(settings.database_url, pool_size=1, tls=settings.postgres_tls())
    program = "python -m services.agency_gateway.cli.reseal"
    texts = ActivityTexts(keys.storage)
    jobs = [
        keys.reseal_job(),
        texts.reseal_job(),
        ResealJob(NOTE, keys.storage),
        ResealJob(SECRET, keys.storage),
    ]
    sys.exit(asyncio.run(run_command(program, engine, jobs, sys.argv[1:])))
