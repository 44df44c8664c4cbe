"""The committed OpenAPI and AsyncAPI documents are the ones the code generates."""

from deploy.apidocs import DOCS, generated_documents, render


def test_committed_documents_match_the_code() -> None:
    stale = [
        name
        for name, document in generated_documents().items()
        if not (DOCS / name).exists() or (DOCS / name).read_text() != render(document)
    ]
    assert not stale, f"run `make docs`: {stale} differ from the code"


def test_every_api_but_health_requires_a_bearer_key() -> None:
    for name, document in generated_documents().items():
        for path, operations in document.get("paths", {}).items():
            for method, operation in operations.items():
                secured = bool(operation.get("security"))
                assert secured != path.endswith(("/healthz", "/readyz")), (name, method, path)
