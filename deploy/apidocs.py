"""Writes the API documents generated from code: OpenAPI per service, AsyncAPI for the topics.

``python -m deploy.apidocs`` (what ``make docs`` runs) writes them under ``docs/``; a test
fails when the committed copies differ from what the code generates.
"""

import json
from pathlib import Path
from typing import Any

from deploy.devstack.platform import SERVICES, PlatformSecrets, build_app, service_options
from services.intake import wiring as intake
from services.intake.settings import IntakeSettings
from shared.events.asyncapi import asyncapi_document

INTAKE = next(s for s in SERVICES if s.name == "intake")
DOCS = Path(__file__).resolve().parents[1] / "docs"


def generated_documents() -> dict[str, dict[str, Any]]:
    """File name under docs/ -> document; building an app connects to nothing."""
    keys = PlatformSecrets.generate()
    apps = {
        s.name: build_app(s.name, service_options(s, "postgresql+asyncpg://-/-", "-:0", keys))
        for s in SERVICES
    }
    documents = {f"openapi/{name}.json": app.openapi() for name, app in apps.items()}
    intake_options = service_options(INTAKE, "postgresql+asyncpg://-/-", "-:0", keys)
    borrower_site = intake.create_borrower_app(IntakeSettings(**intake_options))
    documents["openapi/intake-borrower.json"] = borrower_site.openapi()
    documents["asyncapi.json"] = asyncapi_document()
    return documents


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> None:
    for name, document in generated_documents().items():
        path = DOCS / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(document))
        print(f"wrote {path.relative_to(DOCS.parent)}")


if __name__ == "__main__":
    main()
