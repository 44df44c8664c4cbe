"""``collections reseal SERVICE [--batch-size N] [--status]``: after a data key rotation,
re-seal every value a service stores under an older key with the first key of its ring.

The service's database and key ring come from its own settings (``<SERVICE>_DATABASE_URL``,
``<SERVICE>_DATA_KEYS``); what it seals is listed by ``services/<name>/cli/reseal.py``. Each
batch is one transaction (``FOR UPDATE SKIP LOCKED``, see :mod:`shared.db.reseal`), so it is
safe to re-run and to run beside the service. Exit status 1 when values are left under an old
key (rows the service held locked: run again), 2 when one does not open.
"""

import asyncio
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from deploy.cli.output import JsonOption, console, fail, print_json, progress_bar, table
from deploy.cli.services import service

if TYPE_CHECKING:
    from shared.db.reseal import BatchDone, ResealJob

DEFAULT_BATCH_SIZE = 500  # shared.db.reseal's (a unit test holds them equal)


def jobs_of(name: str, settings: Any) -> list["ResealJob"]:
    """What the service seals, from its own package (imported only when it is re-sealed)."""
    jobs: Callable[[Any], list[ResealJob]]
    if name == "intake":
        from services.intake.cli.reseal import reseal_jobs as jobs
    elif name == "notifier":
        from services.notifier.cli.reseal import reseal_jobs as jobs
    else:
        from services.agency_gateway.cli.reseal import reseal_jobs as jobs
    return jobs(settings)


class SealingService(StrEnum):
    """The services that seal personal data at rest under their own data keys."""

    intake = "intake"
    notifier = "notifier"
    agency_gateway = "agency_gateway"


async def run(
    engine: Any, jobs: Sequence["ResealJob"], batch_size: int
) -> tuple[list[dict[str, object]], int]:
    """Re-seal each job's column with a progress bar; the rows of the report and what is left."""
    from shared.db.reseal import count_stale, reseal

    rows: list[dict[str, object]] = []
    left = 0
    with progress_bar() as bar:
        for job in jobs:
            stale = await count_stale(engine, job.column, job.ring)
            task = bar.add_task(job.column.qualified_name, total=stale)

            def advance(done: "BatchDone", task: Any = task) -> None:
                bar.update(task, completed=done.total)

            report = await reseal(engine, job, batch_size=batch_size, progress=advance)
            left += report.left
            rows.append(
                {
                    "column": report.column,
                    "resealed": report.resealed,
                    "under": job.ring.primary,
                    "batches": report.batches,
                    "left": report.left,
                }
            )
    return rows, left


async def status(engine: Any, jobs: Sequence["ResealJob"]) -> list[dict[str, object]]:
    from shared.db.reseal import kid_counts

    return [
        {
            "column": job.column.qualified_name,
            "values_per_key_id": await kid_counts(engine, job.column),
        }
        for job in jobs
    ]


def command(
    name: Annotated[
        SealingService, typer.Argument(metavar="SERVICE", help="the service whose data to re-seal")
    ],
    batch_size: Annotated[
        int, typer.Option(min=1, help="rows per transaction")
    ] = DEFAULT_BATCH_SIZE,
    only_status: Annotated[
        bool, typer.Option("--status", help="only count the values under each key id")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Re-seal a service's stored personal data under the first key of its data key ring."""
    from shared.db.engine import create_engine
    from shared.db.reseal import ResealError

    settings = service(name.value).settings()
    jobs = jobs_of(name.value, settings)
    engine = create_engine(settings.database_url, pool_size=1, tls=settings.postgres_tls())

    async def main() -> tuple[list[dict[str, object]], int]:
        try:
            if only_status:
                return await status(engine, jobs), 0
            return await run(engine, jobs, batch_size)
        finally:
            await engine.dispose()

    try:
        rows, left = asyncio.run(main())
    except ResealError as error:
        raise fail(f"stopped: {error}", 2) from error
    if as_json:
        print_json(rows)
    elif only_status:
        for row in rows:
            counts = row["values_per_key_id"]
            assert isinstance(counts, dict)
            text = ", ".join(f"{kid}: {n}" for kid, n in counts.items()) or "empty"
            console().print(f"{row['column']}: {text}", markup=False)
    else:
        table(rows, ["column", "resealed", "under", "batches", "left"], name.value, as_json=False)
    if left:
        raise fail(f"{left} values left under other keys (locked when passed): run again")
