"""Errors a client did not cause: a database away or a deadlock is a 503 to retry, not a 500."""

import httpx
import pytest
import sqlalchemy.exc
from fastapi import FastAPI

from shared.http.problems import PROBLEM_JSON, RETRY_AFTER_SECONDS, install_problem_handlers


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _app(error: Exception) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/fails")
    async def fails() -> None:
        raise error

    return app


async def _get(error: Exception) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(error), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/fails")


@pytest.mark.parametrize(
    "error",
    [
        sqlalchemy.exc.DBAPIError("UPDATE loans", {}, _DriverError("40P01")),  # deadlock
        sqlalchemy.exc.DBAPIError("SELECT 1", {}, _DriverError("40001")),  # serialization
        sqlalchemy.exc.OperationalError("SELECT 1", {}, _DriverError("08006")),  # connection
        sqlalchemy.exc.TimeoutError("pool exhausted"),
        ConnectionRefusedError(),
    ],
)
async def test_transient_failures_are_a_503_with_retry_after(error: Exception) -> None:
    response = await _get(error)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert response.json()["status"] == 503
    assert "SELECT" not in response.text
    assert "UPDATE" not in response.text


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a bug"),
        sqlalchemy.exc.DataError("INSERT", {}, _DriverError("22003")),
    ],
)
async def test_other_failures_stay_a_500(error: Exception) -> None:
    response = await _get(error)
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "retry-after" not in response.headers


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 30_000 + b"]" * 30_000, "nested too deeply"),
        (b'{"days": ' + b"9" * 5_000 + b"}", "cannot be decoded as JSON"),
    ],
)
async def test_a_body_the_parser_gives_up_on_is_a_400_naming_the_body(
    body: bytes, message: str
) -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/reports")
    async def reports(report: dict[str, int]) -> dict[str, int]:
        return report

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            "/reports", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    (error,) = response.json()["errors"]
    assert error["field"] == "body"
    assert message in error["message"]
