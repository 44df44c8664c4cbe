"""Rule packs: versioned TOML data, validated at start-up; a lender may tighten, never loosen.

A pack that fails validation refuses to load with a message that names the file and the key,
e.g. ``cn.toml: rules.CN-02.params.max_per_day: Input should be greater than or equal to 0``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.contact_rules.ledger import PartyKind
from shared.contact_rules.params import PARAMS, Params
from shared.vocabulary import Jurisdiction

REQUIRED: dict[Jurisdiction, tuple[str, ...]] = {
    Jurisdiction.CN: ("POL-01", "POL-02", "POL-03", *(f"CN-{n:02d}" for n in range(1, 12))),
    Jurisdiction.US: ("POL-01", "POL-03", *(f"US-{n:02d}" for n in range(1, 13))),
}
"""Every rule of the reference, per pack: a pack that leaves one out does not load."""


class PackError(ValueError):
    """A pack or an overlay that may not be used; the message names the file and the key."""


class RuleStatus(StrEnum):
    ENFORCED = "enforced"
    """Decided before the contact from the ledger and the facts; judged after it too."""
    JUDGED = "judged"
    """Shown only by what happened in the contact (reported flags, message text)."""
    OUT_OF_SCOPE = "out_of_scope"
    """Not a property of a contact; the reason says where it is handled."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _RuleFile(_Strict):
    title: str = Field(min_length=1)
    status: RuleStatus
    applies_to: list[PartyKind] = Field(min_length=1)
    source: str = Field(min_length=1)
    reason: str | None = None
    note: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _reason_only_when_out_of_scope(self) -> _RuleFile:
        if (self.status is RuleStatus.OUT_OF_SCOPE) != (self.reason is not None):
            raise ValueError("reason is required for out_of_scope rules and only for them")
        return self


class _PackFile(_Strict):
    version: str = Field(pattern=r"^[A-Z]{2}-\d{4}\.\d+$")
    jurisdiction: Jurisdiction
    title: str = Field(min_length=1)
    rules: dict[str, _RuleFile]


class _RuleOverlay(_Strict):
    applies_to: list[PartyKind] | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class _OverlayFile(_Strict):
    label: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    base: str
    rules: dict[str, _RuleOverlay]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    status: RuleStatus
    applies_to: frozenset[PartyKind]
    source: str
    params: Params
    reason: str | None = None
    note: str | None = None


@dataclass(frozen=True, eq=False)
class RulePack:
    """A loaded pack; compared and cached by identity."""

    version: str
    jurisdiction: Jurisdiction
    title: str
    rules: Mapping[str, Rule]

    def rule(self, rule_id: str) -> Rule:
        return self.rules[rule_id]


def load_pack(jurisdiction: Jurisdiction) -> RulePack:
    """The platform's pack for a jurisdiction, shipped in ``shared/contact_rules/packs``."""
    name = f"{jurisdiction.value.lower()}.toml"
    text = resources.files("shared.contact_rules").joinpath("packs", name).read_text("utf-8")
    return parse_pack(text, name)


def load_pack_file(path: Path) -> RulePack:
    return parse_pack(path.read_text("utf-8"), path.name)


def parse_pack(text: str, name: str) -> RulePack:
    raw = _toml(text, name)
    try:
        pack = _PackFile.model_validate(raw)
    except ValidationError as error:
        raise PackError(_describe(name, error)) from None
    if not pack.version.startswith(f"{pack.jurisdiction.value}-"):
        raise PackError(f"{name}: version: must start with {pack.jurisdiction.value}-")
    required = REQUIRED[pack.jurisdiction]
    missing = [rule_id for rule_id in required if rule_id not in pack.rules]
    if missing:
        raise PackError(f"{name}: rules: missing {', '.join(missing)}")
    rules: dict[str, Rule] = {}
    for rule_id, spec in pack.rules.items():
        if rule_id not in required:
            raise PackError(f"{name}: rules.{rule_id}: not a rule of {pack.jurisdiction} packs")
        params = _params(rule_id, spec.params, name, f"rules.{rule_id}.params")
        rules[rule_id] = Rule(
            id=rule_id,
            title=spec.title,
            status=spec.status,
            applies_to=frozenset(spec.applies_to),
            source=spec.source,
            params=params,
            reason=spec.reason,
            note=spec.note,
        )
    ordered = {rule_id: rules[rule_id] for rule_id in required}
    return RulePack(pack.version, pack.jurisdiction, pack.title, MappingProxyType(ordered))


def tighten(pack: RulePack, overrides: Mapping[str, Mapping[str, Any]], *, label: str) -> RulePack:
    """``pack`` with a lender's stricter parameters; a change that loosens raises ``PackError``.

    ``overrides`` maps a rule id to ``{"params": {...}, "applies_to": [...]}``. The result's
    version is ``<pack version>+<label>``, so violations name the overlay that judged them.
    """
    try:
        overlay = _OverlayFile.model_validate(
            {"label": label, "base": pack.version, "rules": overrides}
        )
    except ValidationError as error:
        raise PackError(_describe("overlay", error)) from None
    return _apply(pack, overlay, "overlay")


def load_overlay_file(path: Path, pack: RulePack) -> RulePack:
    """A lender overlay (TOML with ``label``, ``base`` = the pack version, ``[rules.<id>]``)."""
    raw = _toml(path.read_text("utf-8"), path.name)
    try:
        overlay = _OverlayFile.model_validate(raw)
    except ValidationError as error:
        raise PackError(_describe(path.name, error)) from None
    if overlay.base != pack.version:
        raise PackError(f"{path.name}: base: {overlay.base} is not the pack's {pack.version}")
    return _apply(pack, overlay, path.name)


def _apply(pack: RulePack, overlay: _OverlayFile, name: str) -> RulePack:
    rules = dict(pack.rules)
    for rule_id, change in overlay.rules.items():
        where = f"rules.{rule_id}"
        if rule_id not in rules:
            raise PackError(f"{name}: {where}: no such rule in {pack.version}")
        base = rules[rule_id]
        merged = {**base.params.model_dump(mode="json"), **change.params}
        params = _params(rule_id, merged, name, f"{where}.params")
        for key, why in base.params.loosenings(params):
            raise PackError(f"{name}: {where}.params.{key}: {why}; a lender may only tighten")
        applies_to = base.applies_to
        if change.applies_to is not None:
            applies_to = frozenset(change.applies_to)
            dropped = base.applies_to - applies_to
            if dropped:
                parties = ", ".join(sorted(dropped))
                raise PackError(f"{name}: {where}.applies_to: cannot drop {parties}")
        rules[rule_id] = Rule(
            id=base.id,
            title=base.title,
            status=base.status,
            applies_to=applies_to,
            source=base.source,
            params=params,
            reason=base.reason,
            note=base.note,
        )
    version = f"{pack.version}+{overlay.label}"
    return RulePack(version, pack.jurisdiction, pack.title, MappingProxyType(rules))


def _params(rule_id: str, raw: Mapping[str, Any], name: str, where: str) -> Params:
    try:
        return PARAMS[rule_id].model_validate(dict(raw))
    except ValidationError as error:
        raise PackError(_describe(name, error, where)) from None


def _toml(text: str, name: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PackError(f"{name}: not valid TOML: {error}") from None


def _describe(name: str, error: ValidationError, prefix: str = "") -> str:
    problems = []
    for detail in error.errors():
        parts = [prefix] if prefix else []
        parts += [str(part) for part in detail["loc"]]
        path = ".".join(parts)
        problems.append(f"{name}: {path or '(top)'}: {detail['msg']}")
    return "; ".join(problems)
