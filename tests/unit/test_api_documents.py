"""The committed OpenAPI and AsyncAPI documents are the ones the code generates."""

from deploy.apidocs import DOCS, generated_documents, render


def test_committed_documents_match_the_code() -> None:
    stale = [
        name
        for name, document in generated_documents().items()
        if not (DOCS / name).exists() or (DOCS / name).read_text() != render(document)
    ]
    assert not stale, f"run `make docs`: {stale} differ from the code"


SIGNED_BY_PROVIDERS = "/v1/receipts/{provider}"
"""Providers' callbacks: authenticated by each provider's signature (or token), not a key."""


def test_every_api_but_health_requires_a_bearer_key() -> None:
    for name, document in generated_documents().items():
        for path, operations in document.get("paths", {}).items():
            for method, operation in operations.items():
                secured = bool(operation.get("security"))
                open_by_design = path.endswith(("/healthz", "/readyz", SIGNED_BY_PROVIDERS))
                assert secured != open_by_design, (name, method, path)


def test_every_error_response_is_a_problem_json_body() -> None:
    for name, document in generated_documents().items():
        if not name.startswith("openapi/"):
            continue
        assert "Problem" in document["components"]["schemas"], name
        assert "HTTPValidationError" not in document["components"]["schemas"], name
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                for status, response in operation["responses"].items():
                    if int(status) >= 400 and not path.endswith(HEALTH_PATHS):
                        assert list(response["content"]) == ["application/problem+json"], (
                            name,
                            method,
                            path,
                            status,
                        )


HEALTH_PATHS = ("/healthz", "/readyz")
"""Probes: 200 or 503, both with the same report (application/json, not a problem)."""


def test_every_health_probe_declares_its_report_for_200_and_503() -> None:
    reports = {"/healthz": "LivenessReport", "/readyz": "ReadinessReport"}
    for name, document in generated_documents().items():
        if not name.startswith("openapi/"):
            continue
        for path, report in reports.items():
            responses = document["paths"][path]["get"]["responses"]
            assert sorted(responses) == ["200", "503"], (name, path)
            for status, response in responses.items():
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": f"#/components/schemas/{report}"}, (name, path, status)
            assert {"status", "checks" if path == "/readyz" else "tasks"} <= set(
                document["components"]["schemas"][report]["properties"]
            ), (name, report)


def test_the_error_statuses_follow_from_what_an_operation_takes() -> None:
    paths = generated_documents()["openapi/intake.json"]["paths"]

    def errors(method: str, path: str) -> list[int]:
        return sorted(int(s) for s in paths[path][method]["responses"] if int(s) >= 400)

    assert errors("get", "/healthz") == [503]  # the liveness report, not a problem
    assert errors("get", "/v1/loans/{loan_id}") == [401, 403, 404, 422, 503]
    # A body: undecodable, too large, not JSON; the Idempotency-Key header: a key reused.
    assert errors("post", "/v1/overdue-loans/batch") == [400, 401, 403, 409, 413, 415, 422, 503]


def test_a_404_a_route_declares_without_a_path_id_is_a_problem_too() -> None:
    """Compliance's lists answer 404 to an auditor naming a lender its key does not cover."""
    paths = generated_documents()["openapi/compliance.json"]["paths"]
    for path in ("/v1/audit/entries", "/v1/violations", "/v1/reports/agencies"):
        declared = paths[path]["get"]["responses"]["404"]
        assert declared["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
        assert "lender_id" in declared["description"]
    assert "404" not in paths["/v1/audit/checkpoint"]["get"]["responses"]


def test_the_gateway_declares_every_status_its_routes_answer() -> None:
    """An ended assignment is 410 to every route but the list; a repeat of an idempotent
    report is 200 beside the 201 of the first; a reused activity id or a lender's escalation
    of a loan with no agency is 409, and so is a legal stage move not allowed (the agency's:
    403 where the lender does not let it); an agency registered anew is 201."""
    paths = generated_documents()["openapi/agency_gateway.json"]["paths"]

    def statuses(method: str, path: str) -> set[str]:
        return set(paths[path][method]["responses"])

    assignment_routes = [
        (method, path)
        for path, operations in paths.items()
        if path.startswith("/v1/assignments/{assignment_id}")
        for method in operations
    ]
    assert len(assignment_routes) == 11
    for method, path in assignment_routes:
        gone = paths[path][method]["responses"].get("410")
        assert gone is not None, (method, path)
        assert list(gone["content"]) == ["application/problem+json"], (method, path)
    assert "410" not in statuses("get", "/v1/assignments")
    base = "/v1/assignments/{assignment_id}"
    for report in ("activities", "promises", "payments", "disputes"):
        assert {"200", "201"} <= statuses("post", f"{base}/{report}"), report
    assert "409" in statuses("post", f"{base}/activities")
    assert "409" in statuses("post", "/v1/loans/{loan_id}/escalations")
    assert {"403", "409"} <= statuses("post", f"{base}/legal-stage")
    assert {"409", "422"} <= statuses("post", "/v1/loans/{loan_id}/legal-stage")
    assert {"200", "201"} <= statuses("put", "/v1/agencies/{agency_id}")


METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def test_every_operation_id_is_a_unique_name_an_integrator_would_choose() -> None:
    """The route function's name (``list_assignments``), never FastAPI's default that appends
    the path and the method (``list_assignments_v1_assignments_get``): the name a generated
    client gives the call. Unique over all the services (one client could cover two), but for
    the health probes every service shares."""
    seen: dict[str, tuple[str, str, str]] = {}
    for name, document in generated_documents().items():
        if not name.startswith("openapi/"):
            continue
        for path, operations in document["paths"].items():
            fragments = {f for f in path.replace("{", "").replace("}", "").split("/") if f}
            for method, operation in operations.items():
                where = (name, method, path)
                op = operation["operationId"]
                assert op.isidentifier(), where
                assert op == op.lower(), where
                assert "v1" not in op.split("_"), where
                assert not op.endswith(METHODS), where
                assert not any(f.replace("-", "_") in op for f in fragments if "_" in f), where
                if path.endswith(HEALTH_PATHS):
                    continue
                assert op not in seen, f"{op} is the id of {seen.get(op)} and {where}"
                seen[op] = where
