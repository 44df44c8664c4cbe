"""The error responses of every operation, declared once from what the operation takes.

FastAPI documents only the statuses a route names; the problem handlers, the authenticator
and the body size limit answer others. This completes each operation of the generated
document with the problem+json responses it can give, inferred from the operation itself:
security (401, 403), parameters or a body (422), a body (400 when it cannot be decoded, 413,
415), a path id or a 404 the route declares (404), an ``Idempotency-Key`` header (409, a key
reused) and, outside the health probes, 503. An error status a route declares itself
(``responses=``, e.g. the gateway's 410) gets the same problem+json body.
"""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from shared.http.problems import PROBLEM_JSON, RETRY_AFTER_SECONDS, Problem

PROBLEM_REF = "#/components/schemas/Problem"
HEALTH_TAG = "health"
DESCRIPTIONS = {
    400: "The body cannot be decoded (e.g. not UTF-8)",
    401: "No API key, or a key that is unknown or revoked",
    403: "The key's role is not served by this service, or may not call this operation",
    404: "No such resource for this caller",
    409: "The request conflicts with the state on record, or reuses an Idempotency-Key",
    410: "The resource existed and is gone for good",
    413: "The body is larger than this operation accepts",
    415: "The body is not sent as JSON",
    422: "A parameter or the body is invalid; `errors` names each bad field",
    503: "A dependency (the database, Kafka) is briefly unavailable; retry later",
}
_OPERATION_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def error_statuses(operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation can answer, from what it takes."""
    if HEALTH_TAG in operation.get("tags", ()):
        return []
    parameters: list[dict[str, Any]] = operation.get("parameters", [])
    has_body = "requestBody" in operation
    statuses = [503]
    if operation.get("security"):
        statuses += [401, 403]
    if parameters or has_body:
        statuses.append(422)
    if has_body:
        statuses += [400, 413, 415]
    declared = {str(status) for status in operation.get("responses", {})}
    if "404" in declared or any(p.get("in") == "path" for p in parameters):
        statuses.append(404)
    idempotent = any(
        p.get("in") == "header" and p.get("name", "").lower() == "idempotency-key"
        for p in parameters
    )
    if "409" in declared or idempotent:
        statuses.append(409)
    statuses += [int(status) for status in declared if status.isdigit() and int(status) >= 400]
    return sorted(set(statuses))


def problem_response_object(status: int, existing: dict[str, Any] | None) -> dict[str, Any]:
    """A response object with a problem+json body, keeping a description already given."""
    response: dict[str, Any] = {
        "description": (existing or {}).get("description") or DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {
                "description": 'The scheme to authenticate with: `Bearer realm="collections"`',
                "schema": {"type": "string"},
            }
        }
    if status == 503:
        response["headers"] = {
            "Retry-After": {
                "description": f"Seconds to wait before a retry ({RETRY_AFTER_SECONDS})",
                "schema": {"type": "integer"},
            }
        }
    return response


def add_problem_responses(document: dict[str, Any]) -> dict[str, Any]:
    """Complete ``document`` (an OpenAPI 3.1 dict, changed in place) with the error
    responses of every operation and the ``Problem`` schema they share."""
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _OPERATION_METHODS:
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status in error_statuses(operation):
                responses[str(status)] = problem_response_object(status, responses.get(str(status)))
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    _drop_unreferenced(schemas, document, ("HTTPValidationError", "ValidationError"))
    return document


def _drop_unreferenced(
    schemas: dict[str, Any], document: dict[str, Any], names: tuple[str, ...]
) -> None:
    """FastAPI's own 422 schemas, once no response refers to them any more."""
    for name in names:
        if name not in schemas:
            continue
        definition = schemas.pop(name)
        if _refers_to(document, f"#/components/schemas/{name}"):
            schemas[name] = definition


def _refers_to(node: Any, ref: str) -> bool:
    if isinstance(node, dict):
        return node.get("$ref") == ref or any(_refers_to(v, ref) for v in node.values())
    if isinstance(node, list):
        return any(_refers_to(v, ref) for v in node)
    return False


def declare_problem_responses(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the document with the error responses declared."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_problem_responses(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
