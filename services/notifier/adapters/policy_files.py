"""Cadence policy files read from a directory, one ``*.toml`` per policy, each made into its
policy and all checked together by ``domain/cadence_policies.py``."""

import tomllib
from collections.abc import Mapping
from pathlib import Path

from services.notifier.domain.cadence_policies import CadencePolicies, PolicyError, policy_of
from services.notifier.domain.policy import CadencePolicy
from services.notifier.domain.templates import TemplateCatalog
from shared.contact_rules import RulePack
from shared.vocabulary import Jurisdiction


def load_policies(
    directory: Path,
    templates: TemplateCatalog,
    packs: Mapping[Jurisdiction, RulePack] | None = None,
) -> CadencePolicies:
    """Every policy of ``directory``, checked; one ``PolicyError`` with every problem."""
    files: dict[str, CadencePolicy | PolicyError] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            files[path.name] = policy_of(path.name, tomllib.loads(path.read_text("utf-8")))
        except tomllib.TOMLDecodeError as error:
            files[path.name] = PolicyError(f"{path.name}: not valid TOML: {error}")
        except PolicyError as error:
            files[path.name] = error
    if not files:
        raise PolicyError(f"{directory}: no policy files (*.toml)")
    return CadencePolicies.checked(files, templates, packs)
