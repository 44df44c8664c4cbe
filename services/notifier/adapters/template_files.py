"""Template and notice files read from a directory: ``notices.toml`` and one ``*.toml`` per
message, each made into its checked value by ``domain/template_specs.py``, the whole catalogue
checked by ``TemplateCatalog.checked``."""

import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from services.notifier.domain.template_specs import (
    NOTICES_FILE,
    TemplateError,
    TemplateSpec,
    jurisdiction_notices,
    template_spec,
)
from services.notifier.domain.templates import TemplateCatalog
from shared.vocabulary import Jurisdiction


def load_catalog(
    directory: Path,
    banned_phrases_by_jurisdiction: Mapping[Jurisdiction, Collection[str]],
) -> TemplateCatalog:
    """Read ``notices.toml`` and every other ``*.toml`` in ``directory``; check them all."""
    notices_path = directory / NOTICES_FILE
    if not notices_path.exists():
        raise TemplateError(
            f"{notices_path}: missing (what each jurisdiction requires messages to say)"
        )
    notices = jurisdiction_notices(read_toml(notices_path))
    specs: dict[str, TemplateSpec] = {}
    problems = []
    for path in sorted(directory.glob("*.toml")):
        if path.name == NOTICES_FILE:
            continue
        try:
            specs[path.stem] = template_spec(path.name, read_toml(path))
        except TemplateError as error:
            problems.append(str(error))
    if problems:
        raise TemplateError("\n".join(problems))
    if not specs:
        raise TemplateError(f"{directory}: no template files (*.toml)")
    return TemplateCatalog.checked(specs, notices, banned_phrases_by_jurisdiction)


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise TemplateError(f"{path.name}: not valid TOML: {error}") from None
