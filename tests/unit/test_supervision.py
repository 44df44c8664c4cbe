"""The supervisor keeps each background task's state, and ``/healthz`` answers 503 while one
is crash-looping or has stopped for good; ``/readyz`` checks only what a service needs."""

import asyncio
from pathlib import Path

import httpx
from aiokafka.errors import KafkaConnectionError
from fastapi import FastAPI

from shared.auth import Role
from shared.db.unit_of_work import UnitOfWork
from shared.events.topics import Topic
from shared.http.health import LivenessReport, ReadinessReport, health_router
from shared.kafka.handlers import EventHandlers
from shared.runtime import CRASH_LOOP_FAILURES, ServiceRuntime
from shared.settings import ServiceSettings


def _runtime() -> ServiceRuntime:
    runtime = ServiceRuntime("svc", ServiceSettings(), Path("."), [Role.LENDER])
    runtime.restart_backoff = 0.001
    return runtime


async def _healthz(runtime: ServiceRuntime) -> httpx.Response:
    app = FastAPI()
    app.include_router(health_router(runtime.readiness_checks(), runtime.liveness))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as client:
        return await client.get("/healthz")


async def _until(condition: object, within: float = 5.0) -> None:
    assert callable(condition)
    for _ in range(int(within / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


async def test_a_crash_looping_task_fails_liveness_with_its_restarts_and_last_error() -> None:
    runtime = _runtime()

    async def broken() -> None:
        raise RuntimeError("boom")

    task = runtime.supervise("relay", broken)
    try:
        state = runtime.task_states["relay"]
        await _until(lambda: state.crash_looping)
        response = await _healthz(runtime)
    finally:
        task.cancel()
    assert response.status_code == 503, response.text
    LivenessReport.model_validate(response.json())  # the body the document declares for 503
    report = response.json()["tasks"]["relay"]
    assert report["crash_looping"] is True
    assert report["restarts"] >= CRASH_LOOP_FAILURES
    assert report["last_error"] == "RuntimeError('boom')"
    assert report["running"] is False


async def test_a_task_that_failed_once_and_runs_again_is_alive() -> None:
    runtime = _runtime()
    attempts = 0

    async def flaky() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("away")
        await asyncio.Event().wait()

    task = runtime.supervise("consumer", flaky)
    try:
        await _until(lambda: runtime.task_states["consumer"].restarts == 1 and attempts == 2)
        response = await _healthz(runtime)
    finally:
        task.cancel()
    assert response.status_code == 200, response.text
    assert response.json()["tasks"]["consumer"] == {
        "running": True,
        "returned": False,
        "restarts": 1,
        "crash_looping": False,
        "broker_failures_in_a_row": 0,
        "last_error": "ConnectionError('away')",
    }


async def test_a_task_meant_to_run_for_good_that_returned_fails_liveness() -> None:
    runtime = _runtime()

    async def done() -> None:
        return None

    await runtime.supervise("retention", done)
    await runtime.supervise("producer", done, forever=False)
    response = await _healthz(runtime)
    assert response.status_code == 503, response.text
    assert response.json()["tasks"]["retention"]["returned"] is True
    assert response.json()["tasks"]["producer"]["returned"] is True


async def test_a_crash_loop_outside_liveness_is_reported_but_keeps_the_process_alive() -> None:
    runtime = _runtime()

    async def broker_away() -> None:
        raise ConnectionError("no broker")

    task = runtime.supervise("producer", broker_away, forever=False, liveness=False)
    try:
        await _until(lambda: runtime.task_states["producer"].crash_looping)
        response = await _healthz(runtime)
    finally:
        task.cancel()
    assert response.status_code == 200, response.text
    assert response.json()["tasks"]["producer"]["crash_looping"] is True


async def test_a_task_that_cannot_reach_kafka_retries_without_failing_liveness() -> None:
    runtime = _runtime()
    runtime.max_restart_backoff = 0.002

    async def no_broker() -> None:
        raise KafkaConnectionError("Unable to bootstrap")

    task = runtime.supervise("consumer", no_broker)
    try:
        state = runtime.task_states["consumer"]
        await _until(lambda: state.restarts >= 4 * CRASH_LOOP_FAILURES)
        response = await _healthz(runtime)
    finally:
        task.cancel()
    assert response.status_code == 200, response.text
    report = response.json()["tasks"]["consumer"]
    assert report["crash_looping"] is False
    assert report["broker_failures_in_a_row"] >= 4 * CRASH_LOOP_FAILURES
    assert "KafkaConnectionError" in report["last_error"]


async def test_failures_of_its_own_between_broker_failures_still_make_a_crash_loop() -> None:
    runtime = _runtime()
    attempts = 0

    async def broken_while_kafka_is_away() -> None:
        nonlocal attempts
        attempts += 1
        if attempts % 2:
            raise KafkaConnectionError("Unable to bootstrap")
        raise RuntimeError("bug")

    task = runtime.supervise("consumer", broken_while_kafka_is_away)
    try:
        state = runtime.task_states["consumer"]
        await _until(lambda: state.crash_looping)
        response = await _healthz(runtime)
    finally:
        task.cancel()
    assert response.status_code == 503, response.text
    assert state.failures_in_a_row >= CRASH_LOOP_FAILURES


def test_readiness_checks_the_database_the_credentials_and_only_a_consumer_its_groups() -> None:
    api_only = _runtime()
    assert set(api_only.readiness_checks()) == {"database", "credentials"}
    consuming = _runtime()
    consuming.consume("group", [Topic.LOANS], EventHandlers(), consuming.units_of_work(UnitOfWork))
    assert set(consuming.readiness_checks()) == {"database", "credentials", "consumers"}


async def test_not_ready_is_503_with_the_report_the_document_declares() -> None:
    async def up() -> bool:
        return True

    async def down() -> bool:
        return False

    app = FastAPI()
    app.include_router(health_router({"database": up, "consumers": down}, _runtime().liveness))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503, response.text
    report = ReadinessReport.model_validate(response.json())
    assert report.status == "not ready"
    assert report.checks == {"database": "ok", "consumers": "failing"}
