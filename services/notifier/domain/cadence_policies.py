"""Every cadence policy, cross-checked at start-up, and the choice of one per loan.

``adapters/policy_files.py`` reads the files; ``policy_of`` makes each one a policy and
``CadencePolicies.checked`` checks them together. All problems are reported at once in one
``PolicyError``, each line naming the file and the key, e.g.
``cn-default.toml: steps.2.channel: the notifier sends only sms and email``. List items are
numbered from 1, as they appear in the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from services.notifier.domain.messages import TemplateKind
from services.notifier.domain.policy import WILDCARD, CadencePolicy
from services.notifier.domain.templates import TemplateCatalog
from shared.contact_rules import PartyKind, RulePack
from shared.contact_rules.clock import in_window
from shared.contact_rules.params import QuietWindowParams
from shared.vocabulary import Channel, Jurisdiction


class PolicyError(ValueError):
    """A policy file that may not be used; each line names the file and the key."""


class NoPolicyError(LookupError):
    """No policy matches a loan's lender, product and jurisdiction."""


CHOICES_KEPT = 4096  # (lender, product, jurisdiction) choices remembered; then forgotten at once


@dataclass(frozen=True)
class CadencePolicies:
    policies: tuple[CadencePolicy, ...]  # in file-name order, for ``GET /v1/policies``
    # Each choice made, by (lender, product, jurisdiction): the policies never change once
    # loaded, so a choice is made once, not for every event and every notification planned.
    _chosen: dict[tuple[str, str, str], CadencePolicy] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    @classmethod
    def checked(
        cls,
        files: Mapping[str, CadencePolicy | PolicyError],
        templates: TemplateCatalog,
        packs: Mapping[Jurisdiction, RulePack] | None = None,
    ) -> CadencePolicies:
        """The policies of ``files`` (file name -> its policy, or why it is none), checked
        against the templates and, when given, the rule packs (a ``send_at`` inside a quiet
        window binding the lender is refused); one ``PolicyError`` with every problem."""
        problems: list[str] = []
        loaded: dict[str, CadencePolicy] = {}
        for name, policy in files.items():
            if isinstance(policy, PolicyError):
                problems.append(str(policy))
                continue
            problems += [f"{name}: {p}" for p in _template_problems(policy, templates)]
            problems += [f"{name}: {p}" for p in _quiet_hours_problems(policy, packs or {})]
            loaded[name] = policy
        problems += _duplicates(loaded)
        if problems:
            raise PolicyError("\n".join(problems))
        return cls(tuple(loaded.values()))

    def select(self, lender_id: str, product: str, jurisdiction: str) -> CadencePolicy:
        """The most specific match: an exact lender beats an exact product beats an exact
        jurisdiction, and any exact value beats ``*``."""
        key = (lender_id, product, jurisdiction)
        chosen = self._chosen.get(key)
        if chosen is None:
            chosen = self._choose(lender_id, product, jurisdiction)
            if len(self._chosen) >= CHOICES_KEPT:
                self._chosen.clear()
            self._chosen[key] = chosen
        return chosen

    def _choose(self, lender_id: str, product: str, jurisdiction: str) -> CadencePolicy:
        matching = [p for p in self.policies if p.match.matches(lender_id, product, jurisdiction)]
        if not matching:
            raise NoPolicyError(
                f"no cadence policy matches lender {lender_id!r}, product {product!r}, "
                f"jurisdiction {jurisdiction!r}"
            )
        return max(matching, key=lambda policy: policy.match.specificity)


def policy_of(file_name: str, raw: dict[str, Any]) -> CadencePolicy:
    """The policy of one file (``file_name``, its TOML ``raw``); ``PolicyError`` naming the
    file and the key otherwise."""
    try:
        policy = CadencePolicy.model_validate(raw)
    except ValidationError as error:
        raise PolicyError("\n".join(describe(file_name, error))) from None
    stem = file_name.removesuffix(".toml")
    if policy.id != stem:
        raise PolicyError(f"{file_name}: id: {policy.id!r} must be the file's name, {stem!r}")
    return policy


def _template_problems(policy: CadencePolicy, templates: TemplateCatalog) -> Iterator[str]:
    uses = [
        (f"steps.{n}", s.template, s.channel, TemplateKind.REMINDER)
        for n, s in policy.numbered_steps()
    ]
    uses += [
        (f"agency_notice.{n}", notice.template, notice.channel, TemplateKind.AGENCY_NOTICE)
        for n, notice in enumerate(policy.agency_notice, start=1)
    ]
    served = _served(policy)
    for where, name, channel, kind in uses:
        yield from _template_problem(f"{where}.template", name, channel, kind, served, templates)


def _template_problem(
    where: str,
    name: str,
    channel: Channel,
    kind: TemplateKind,
    served: set[Jurisdiction],
    templates: TemplateCatalog,
) -> Iterator[str]:
    if name not in templates:
        yield f"{where}: no template {name!r} (known: {', '.join(templates.names)})"
        return
    spec = templates.spec(name)
    if spec.kind is not kind:
        yield f"{where}: {name!r} is a {spec.kind} template; a {kind} one is needed here"
    if spec.channel is not channel:
        yield f"{where}: {name!r} is written for {spec.channel}, the step sends {channel}"
    missing = sorted(served - spec.jurisdictions)
    if missing:
        yield f"{where}: {name!r} is not written for {', '.join(missing)}"
    absent = [locale for locale in templates.locales if locale not in spec.locales]
    if absent:
        yield f"{where}: {name!r} lacks locale {', '.join(absent)}"


def _quiet_hours_problems(
    policy: CadencePolicy, packs: Mapping[Jurisdiction, RulePack]
) -> Iterator[str]:
    channels = {step.channel for step in policy.steps}
    channels |= {notice.channel for notice in policy.agency_notice}
    for jurisdiction in sorted(_served(policy)):
        pack = packs.get(jurisdiction)
        if pack is None:
            continue
        for rule in pack.rules.values():
            window = rule.params
            if (
                isinstance(window, QuietWindowParams)
                and PartyKind.LENDER in rule.applies_to
                and channels & set(window.channels)
                and in_window(policy.send_at, window.start, window.end)
            ):
                yield (
                    f"send_at: {policy.send_at:%H:%M} is inside {rule.id}'s quiet window "
                    f"{window.start:%H:%M}-{window.end:%H:%M} ({pack.version})"
                )


def _served(policy: CadencePolicy) -> set[Jurisdiction]:
    if policy.match.jurisdiction == WILDCARD:
        return set(Jurisdiction)
    return {Jurisdiction(policy.match.jurisdiction)}


def _duplicates(loaded: Mapping[str, CadencePolicy]) -> Iterator[str]:
    seen: dict[tuple[str, str, str], str] = {}
    for name, policy in loaded.items():
        key = policy.match.key
        if key in seen:
            keys = "lender_id={}, product={}, jurisdiction={}".format(*key)
            yield f"{name}: match: {keys} is already matched by {seen[key]}"
        else:
            seen[key] = name


_PATH_FIRST = re.compile(r"^([A-Za-z_]\w*(?:\.\w+)*): (.*)$", re.DOTALL)


def describe(name: str, error: ValidationError) -> Iterator[str]:
    """One line per problem: file, dotted key (list items from 1), message."""
    for detail in error.errors():
        loc: list[Any] = [part + 1 if isinstance(part, int) else part for part in detail["loc"]]
        message = detail["msg"]
        cause = detail.get("ctx", {}).get("error")
        if detail["type"] == "value_error" and cause is not None:
            message = str(cause)
            found = _PATH_FIRST.match(message)
            if found:
                loc.append(found.group(1))
                message = found.group(2)
        yield f"{name}: {'.'.join(str(part) for part in loc) or '(top)'}: {message}"
