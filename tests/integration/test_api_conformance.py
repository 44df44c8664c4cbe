"""Schemathesis against every service: examples, coverage and fuzzing phases, a bounded and
deterministic number of cases per operation, 0 failures and 0 server errors allowed.

The apps live on the test session's event loop (their database pools and Kafka clients are
bound to it), while schemathesis runs synchronously and calls an ASGI app from an event loop
of its own. ``_on_loop`` bridges the two: schemathesis sees an ASGI app, each request is
buffered and run by the real app on the session loop, and the app's lifespan is never
started a second time. No service offers a destructive administrative route (API keys are
issued and revoked from the command line), so every operation is exercised, with the data
schemathesis generates: loan ids it makes up are unknown to the other tests' lenders' loans,
which all carry the session's prefix.

Every check schemathesis has runs but ``positive_data_acceptance``, which asks that each request
the schema allows be accepted: the APIs refuse, with 422 naming the field, what no JSON Schema
can state (an instant after now, an amount with more decimals than its currency has, a
``days_past_due`` that disagrees with ``due_date``, a time zone name that is no zone, a proof
of a tree larger than the log). ``use_after_free`` and ``ensure_resource_availability`` act on
the stateful phase only, which is off (the data it would chain is made up).
"""

import asyncio
import time
from uuid import uuid4

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import Role
from tests.harness import RunningPlatform

MAX_EXAMPLES = 50
SEED = 20260
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
)
RUNS = [  # each service with a key of a role it serves; the gateway's agency routes too
    ("intake", Role.LENDER),
    ("notifier", Role.LENDER),
    ("agency_gateway", Role.LENDER),
    ("agency_gateway", Role.AGENCY),
    ("compliance", Role.AUDITOR),
]


def _on_loop(app: ASGIApp, loop: asyncio.AbstractEventLoop) -> ASGIApp:
    """An ASGI app that runs each request of ``app`` on ``loop``, buffered both ways."""

    async def bridged(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent: list[Message] = []

        async def run() -> None:
            delivered = False

            async def app_receive() -> Message:
                nonlocal delivered
                if delivered:  # the request is whole; the client stays connected
                    await asyncio.Event().wait()
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}

            async def app_send(message: Message) -> None:
                sent.append(message)

            await app(dict(scope), app_receive, app_send)

        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), loop))
        for message in sent:
            await send(message)

    return bridged


def _config(api_key: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {api_key}"},
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )


def _run(app: ASGIApp, api_key: str) -> tuple[list[str], int]:
    """Every failure and error schemathesis reports, and how many scenarios it ran."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config(api_key))
    problems: list[str] = []
    scenarios = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            scenarios += 1
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.status == Status.SUCCESS:
                        continue
                    case = event.recorder.cases[case_id].value
                    info = check.failure_info
                    problems.append(
                        f"{event.recorder.label} {check.name}: "
                        + (
                            f"{info.failure}\n  reproduce: {info.code_sample}"
                            if info
                            else "errored"
                        )
                        + f"\n  case: {case.method} {case.formatted_path} {case.body!r:.300}"
                    )
            if event.status == Status.ERROR:
                problems.append(f"{event.recorder.label}: errored")
        elif isinstance(event, events.NonFatalError | events.FatalError):
            problems.append(f"schemathesis error: {event!r}")
    return problems, scenarios


@pytest.mark.parametrize(("service", "role"), RUNS, ids=[f"{s}-{r.value}" for s, r in RUNS])
async def test_the_service_conforms_to_its_openapi(
    platform: RunningPlatform, service: str, role: Role
) -> None:
    api_key = await _key(platform, role)
    app = _on_loop(platform.apps[service], asyncio.get_running_loop())
    started = time.monotonic()
    problems, scenarios = await asyncio.to_thread(_run, app, api_key)
    elapsed = time.monotonic() - started
    assert scenarios > 0
    assert not problems, f"{len(problems)} in {elapsed:.1f}s:\n" + "\n".join(problems)


async def _key(platform: RunningPlatform, role: Role) -> str:
    """The demo lender's or auditor's key; an agency of its own (no other test's agency has
    its webhooks redelivered or its assignments touched)."""
    if role is Role.LENDER:
        return platform.credentials.lender["api_key"]
    if role is Role.AUDITOR:
        return platform.credentials.auditor["api_key"]
    issued = await platform.issue(role, f"agency-conformance-{uuid4().hex[:8]}", "schemathesis")
    return issued.api_key
