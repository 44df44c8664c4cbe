"""``python -m deploy.migrate intake [notifier ...]``: bring each named service's database to
the newest migration, then exit (the init step of Compose and Kubernetes).

Each service reads its database from its own settings (``INTAKE_DATABASE_URL`` and so on), as
``make run`` does before it starts the services. The services still migrate at start-up too;
after this step that finds nothing to do.
"""

import argparse
import asyncio
import sys
from collections.abc import Sequence

from deploy.devstack.platform import SERVICES, Service
from shared.db.migrations import upgrade_to_head

BY_NAME = {service.name: service for service in SERVICES}


async def migrate(services: Sequence[Service]) -> None:
    for service in services:
        settings = service.settings()
        await upgrade_to_head(service.migrations, settings.database_url, settings.postgres_tls())
        print(f"{service.name}: migrated to head")


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.migrate", description=__doc__)
    parser.add_argument("services", nargs="+", choices=sorted(BY_NAME), metavar="SERVICE")
    args = parser.parse_args(list(argv))
    asyncio.run(migrate([BY_NAME[name] for name in args.services]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
