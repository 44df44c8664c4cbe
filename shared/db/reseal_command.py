"""The command each service that stores sealed data exposes to re-seal it after a rotation.

``python -m services.<name>.reseal [--batch-size N] [--status]``: the service's module builds
the engine and data key ring from its settings and calls :func:`run_command` with its
:class:`ResealJob` list. ``--status`` only counts the values under each key id.
"""

import argparse
from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.crypto import KeyRing
from shared.db.reseal import (
    DEFAULT_BATCH_SIZE,
    BatchDone,
    ResealJob,
    kid_counts,
    reseal,
)


def command_parser(program: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program,
        description="Re-seal stored personal data under the first key of the data key ring.",
    )
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument(
        "--status", action="store_true", help="only count the values under each key id"
    )
    return parser


async def run_command(
    program: str,
    engine: AsyncEngine,
    ring: KeyRing,
    jobs: Sequence[ResealJob],
    argv: Sequence[str],
) -> int:
    """The body of a service's ``python -m services.<name>.reseal``; returns the exit status
    (1 when values are left under an old key)."""
    args = command_parser(program).parse_args(list(argv))
    left = 0
    try:
        for job in jobs:
            where = job.column.qualified_name
            if args.status:
                print(f"{where}: {kid_counts_text(await kid_counts(engine, job.column))}")
                continue
            report = await reseal(
                engine,
                job.column,
                ring,
                batch_size=args.batch_size,
                opener=job.opener,
                reads=job.reads,
                progress=print_progress,
            )
            left += report.left
            print(
                f"{report.column}: {report.resealed} re-sealed under {ring.primary} in "
                f"{report.batches} batches; {report.left} left under other keys"
            )
    finally:
        await engine.dispose()
    return 1 if left else 0


def print_progress(done: BatchDone) -> None:
    print(
        f"{done.column}: {done.resealed} re-sealed in this batch, {done.total} so far", flush=True
    )


def kid_counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{kid}: {n}" for kid, n in counts.items()) or "empty"
