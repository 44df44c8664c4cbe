"""Session fixtures, markers by folder, and no silent skips in CI.

``unit``, ``integration`` and ``e2e`` are applied from the folder a test lives in, so
``pytest -m unit`` runs the pure tests in seconds; ``faults`` is applied by hand to the tests
that stop a broker, kill a process or take a database away. With ``CI=true`` a skipped test
fails the run: a fault test can never drop out unnoticed.
"""

import os
from collections.abc import AsyncIterator, Generator
from pathlib import Path

import pytest

from tests.harness import RunningPlatform, running_platform
from tests.infrastructure import (
    TestInfrastructure,
    provide_cluster_infrastructure,
    provide_infrastructure,
)

FOLDER_MARKERS = ("unit", "integration", "e2e")
TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.relative_to(TESTS).parts[0]
        if folder in FOLDER_MARKERS:
            item.add_marker(folder)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.skipped and os.environ.get("CI") == "true" and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every test must run: {report.longrepr}"


@pytest.fixture(scope="session")
async def infrastructure() -> AsyncIterator[TestInfrastructure]:
    """Kafka and PostgreSQL, started (or found) once for the whole test session."""
    async with provide_infrastructure() as infra:
        yield infra


@pytest.fixture(scope="session")
async def platform(infrastructure: TestInfrastructure) -> AsyncIterator[RunningPlatform]:
    """The four services, running in this process against the session's infrastructure."""
    async with running_platform(infrastructure) as running:
        yield running


@pytest.fixture(scope="module")
async def cluster_infrastructure() -> AsyncIterator[TestInfrastructure]:
    """A three-broker KRaft cluster (local jars, formatted anew) with the session's PostgreSQL,
    for one module: topics need its ``topic_settings()`` (3 replicas, 2 in sync)."""
    async with provide_cluster_infrastructure(brokers=3) as cluster:
        yield cluster
