"""Command line: ``python -m deploy.devstack run|infra|fetch|clean``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import sys
from pathlib import Path

from .errors import DevstackError
from .paths import DEFAULT_CACHE, DEFAULT_ROOT, TEST_ROOT
from .processes import RunLock

log = logging.getLogger("devstack")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.devstack",
        description="The collections platform on this machine, without Docker.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "Kafka, PostgreSQL and the services, until Ctrl-C (what `make run` does)"),
        ("infra", "only Kafka, PostgreSQL and the service databases, until Ctrl-C"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="data folder")
        command.add_argument("--kafka-port", type=int, default=9092, help="(and port + 1)")
        command.add_argument("--postgres-port", type=int, default=54329)
    commands.add_parser("fetch", help="download the Kafka jars into the cache (once)")
    clean = commands.add_parser(
        "clean", help="wipe .devstack/ and .devstack-test/, keeping .devstack/cache/"
    )
    clean.add_argument("--root", type=Path, action="append", help="only this folder")
    return parser


def clean(roots: list[Path], keep: Path) -> None:
    """Wipe stack folders (never a running one), keeping the download cache."""
    from .infrastructure import LocalInfrastructure

    keep = keep.resolve()
    for root in (r.resolve() for r in roots):
        if not root.exists():
            continue
        # The test stacks of parallel sessions live in sub-folders, each with its own lock.
        folders = [root, *(lock.parent for lock in sorted(root.glob("*/devstack.lock")))]
        with contextlib.ExitStack() as locks:
            locks.enter_context(RunLock(root / "run.lock", f"`make run` in {root}"))
            for folder in folders:
                locks.enter_context(RunLock(folder / "devstack.lock", f"a dev stack in {folder}"))
                # A server a killed run left behind must not keep writing into deleted files.
                brokers = len(list(folder.glob("kafka-*/"))) or 1  # a cluster's nodes
                asyncio.run(LocalInfrastructure(folder, kafka_brokers=brokers).stop_leftovers())
            for child in root.iterdir():
                if child == keep or child.name in ("devstack.lock", "run.lock"):
                    continue
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        for lock in ("devstack.lock", "run.lock"):
            (root / lock).unlink(missing_ok=True)
        if root != keep.parent:
            root.rmdir()
        print(f"devstack: wiped {root}" + (f" (kept {keep})" if keep.parent == root else ""))


def _configure_logging() -> None:
    """The dev stack's progress at INFO; other libraries (alembic, aiokafka) only warnings."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("devstack: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(levelname)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging()
    try:
        if args.command in ("run", "infra"):
            from . import runner

            return runner.run_until_signal(
                runner.run(
                    args.root.resolve(),
                    kafka_port=args.kafka_port,
                    postgres_port=args.postgres_port,
                    cache_dir=DEFAULT_CACHE,
                    services=args.command == "run",
                )
            )
        if args.command == "fetch":
            from . import kafka

            libs = asyncio.run(kafka.fetch_libs(DEFAULT_CACHE))
            print(f"devstack: Kafka jars in {libs}")
            return 0
        if args.command == "clean":
            clean(args.root or [DEFAULT_ROOT, TEST_ROOT], keep=DEFAULT_CACHE)
            return 0
    except DevstackError as error:
        print(f"devstack: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
