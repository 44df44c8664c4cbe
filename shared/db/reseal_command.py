"""The command each service that stores sealed data exposes to re-seal it after a rotation.

``python -m services.<name>.cli.reseal [--batch-size N] [--status]``: the service's module builds
the engine and its jobs (each with the data key ring) from its settings and calls
:func:`run_command`. ``--status`` only counts the values under each key id.
"""

import argparse
import sys
from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.reseal import (
    DEFAULT_BATCH_SIZE,
    BatchDone,
    ResealError,
    ResealJob,
    kid_counts,
    reseal,
)


def command_parser(program: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program,
        description="Re-seal stored personal data under the first key of the data key ring.",
    )
    parser.add_argument(
        "--batch-size", type=_positive, default=DEFAULT_BATCH_SIZE, help="rows per transaction"
    )
    parser.add_argument(
        "--status", action="store_true", help="only count the values under each key id"
    )
    return parser


async def run_command(
    program: str,
    engine: AsyncEngine,
    jobs: Sequence[ResealJob],
    argv: Sequence[str],
) -> int:
    """The body of a service's ``python -m services.<name>.cli.reseal``; returns the exit status
    (1 when values are left under an old key, 2 when one does not open)."""
    args = command_parser(program).parse_args(list(argv))
    left = 0
    try:
        for job in jobs:
            where = job.column.qualified_name
            if args.status:
                print(f"{where}: {kid_counts_text(await kid_counts(engine, job.column))}")
                continue
            report = await reseal(engine, job, batch_size=args.batch_size, progress=print_progress)
            left += report.left
            print(
                f"{report.column}: {report.resealed} re-sealed under {job.ring.primary} in "
                f"{report.batches} batches; {report.left} left under other keys"
            )
    except ResealError as error:
        print(f"stopped: {error}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()
    return 1 if left else 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def print_progress(done: BatchDone) -> None:
    print(
        f"{done.column}: {done.resealed} re-sealed in this batch, {done.total} so far", flush=True
    )


def kid_counts_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{kid}: {n}" for kid, n in counts.items()) or "empty"
