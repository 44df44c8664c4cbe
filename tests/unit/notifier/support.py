"""The shipped templates and policies, loaded once, and copies of them to break in a test."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

from services.notifier.adapters.policy_files import load_policies
from services.notifier.adapters.template_files import load_catalog
from services.notifier.domain.cadence_policies import CadencePolicies
from services.notifier.domain.template_checks import banned_phrases
from services.notifier.domain.templates import TemplateCatalog
from shared.contact_rules import RulePack, load_pack
from shared.vocabulary import Jurisdiction

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "services" / "notifier" / "templates"
POLICIES = ROOT / "services" / "notifier" / "policies"
EXAMPLE_POLICY = Path(__file__).parent / "data" / "acme-cash-loan-cn.toml"


@cache
def banned() -> dict[Jurisdiction, tuple[str, ...]]:
    return {jurisdiction: banned_phrases(pack) for jurisdiction, pack in packs().items()}


@cache
def packs() -> dict[Jurisdiction, RulePack]:
    return {jurisdiction: load_pack(jurisdiction) for jurisdiction in Jurisdiction}


@cache
def catalog() -> TemplateCatalog:
    return load_catalog(TEMPLATES, banned())


@cache
def book() -> CadencePolicies:
    """The shipped policies."""
    return load_policies(POLICIES, catalog(), packs())


def copy_of(source: Path, into: Path) -> Path:
    """A writable copy of the ``*.toml`` files of ``source``."""
    into.mkdir(parents=True, exist_ok=True)
    for path in source.glob("*.toml"):
        shutil.copy(path, into / path.name)
    return into


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), "utf-8")
