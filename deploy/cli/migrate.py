"""``collections migrate [SERVICE...]``: bring each named service's database (all of them when
none is named) to the newest migration, then exit: the init step of Compose and Kubernetes.

Each service's database is read from its own settings (``INTAKE_DATABASE_URL``,
``INTAKE_DATABASE_SSLMODE`` ...), as the service reads them. The services still migrate at
start-up too; after this step that finds nothing to do.
"""

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from deploy.cli.output import console, progress_bar
from deploy.cli.services import ServiceName, every_service, service

if TYPE_CHECKING:
    from deploy.devstack.platform import Service


async def migrate(services: Sequence["Service"]) -> None:
    """Each service's database to head, one after the other, with a progress bar."""
    from shared.db.migrations import upgrade_to_head

    with progress_bar() as bar:
        task = bar.add_task("migrating", total=len(services))
        for each in services:
            bar.update(task, description=f"migrating {each.name}")
            settings = each.settings()
            await upgrade_to_head(each.migrations, settings.database_url, settings.postgres_tls())
            bar.advance(task)
            console().print(f"{each.name}: migrated to head", markup=False)


def command(
    services: Annotated[
        list[ServiceName] | None,
        typer.Argument(metavar="[SERVICE]...", help="the services (default: every one)"),
    ] = None,
) -> None:
    """Bring each service's database to the newest migration."""
    chosen = [service(name) for name in services] if services else every_service()
    asyncio.run(migrate(chosen))
