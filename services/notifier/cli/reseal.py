"""``python -m services.notifier.cli.reseal [--batch-size N] [--status]``: re-seal the stored
contacts under the first key of ``NOTIFIER_DATA_KEYS`` (see :mod:`shared.db.reseal`)."""

import asyncio
import sys

from services.notifier.adapters.contact_details import CONTACT
from services.notifier.settings import NotifierSettings
from shared.db.engine import create_engine
from shared.db.reseal import ResealJob
from shared.db.reseal_command import run_command

if __name__ == "__main__":
    settings = NotifierSettings()
    job = ResealJob(CONTACT, settings.data_key_ring())
    engine = create_engine(settings.database_url, pool_size=1, tls=settings.postgres_tls())
    program = "python -m services.notifier.cli.reseal"
    sys.exit(asyncio.run(run_command(program, engine, [job], sys.argv[1:])))
