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
