"""Declarative heuristic rules: load and validate YAML, evaluate on one message or a frame."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from detection.mail.schema import ATTACK_CATEGORIES

if TYPE_CHECKING:  # frames are for the pipeline; scoring one message never loads pandas
    import pandas as pd

ACTIONS = ("flag", "force_attack")
OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


class RuleError(ValueError):
    """A rule file that cannot be used; the message names the rule and what is wrong."""


@dataclass(frozen=True)
class Condition:
    feature: str
    op: str
    value: float

    def holds(self, features: Mapping[str, float]) -> bool:
        return bool(OPERATORS[self.op](features[self.feature], self.value))


@dataclass(frozen=True)
class Rule:
    name: str
    category: str
    action: str
    description: str
    conditions: tuple[Condition, ...]

    def fires(self, features: Mapping[str, float]) -> bool:
        return all(c.holds(features) for c in self.conditions)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    source_text: str

    def fired(self, features: Mapping[str, float]) -> list[Rule]:
        return [rule for rule in self.rules if rule.fires(features)]

    def hits(self, frame: pd.DataFrame) -> pd.DataFrame:
        """One boolean column per rule: which rows it fires on."""
        import pandas as pd

        columns = {}
        for rule in self.rules:
            mask = np.ones(len(frame), dtype=bool)
            for c in rule.conditions:
                mask &= np.asarray(
                    OPERATORS[c.op](frame[c.feature].to_numpy(), c.value), dtype=bool
                )
            columns[rule.name] = mask
        return pd.DataFrame(columns, index=frame.index)

    def forced(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows on which any ``force_attack`` rule fires."""
        hits = self.hits(frame)
        names = [r.name for r in self.rules if r.action == "force_attack"]
        if not names:
            return np.zeros(len(frame), dtype=bool)
        return np.asarray(hits[names].to_numpy(dtype=bool).any(axis=1))


def _fail(rule: str, problem: str) -> RuleError:
    return RuleError(f"rule {rule!r}: {problem}. Fix the rule file and load it again.")


def _condition(rule: str, raw: object, features: frozenset[str]) -> Condition:
    if not isinstance(raw, dict) or set(raw) != {"feature", "op", "value"}:
        raise _fail(rule, f"each condition needs exactly feature, op and value, got {raw!r}")
    if raw["feature"] not in features:
        raise _fail(
            rule,
            f"unknown feature {raw['feature']!r}; the known ones are in "
            "detection/features/vector.py",
        )
    if raw["op"] not in OPERATORS:
        raise _fail(rule, f"unknown operator {raw['op']!r}; use one of {', '.join(OPERATORS)}")
    if isinstance(raw["value"], bool) or not isinstance(raw["value"], int | float):
        raise _fail(rule, f"value for {raw['feature']!r} must be a number, got {raw['value']!r}")
    return Condition(raw["feature"], raw["op"], float(raw["value"]))


def _rule(raw: object, position: int, features: frozenset[str]) -> Rule:
    if not isinstance(raw, dict):
        raise _fail(f"#{position}", "each rule must be a mapping")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(f"#{position}", "missing a non-empty name")
    unknown = set(raw) - {"name", "category", "action", "description", "all"}
    if unknown:
        raise _fail(name, f"unknown keys {sorted(unknown)}")
    if raw.get("category") not in ATTACK_CATEGORIES:
        raise _fail(
            name, f"category {raw.get('category')!r} is not one of {', '.join(ATTACK_CATEGORIES)}"
        )
    if raw.get("action") not in ACTIONS:
        raise _fail(name, f"action {raw.get('action')!r} is not one of {', '.join(ACTIONS)}")
    conditions = raw.get("all")
    if not isinstance(conditions, list) or not conditions:
        raise _fail(name, "needs a non-empty 'all' list of conditions")
    return Rule(
        name=name,
        category=raw["category"],
        action=raw["action"],
        description=str(raw.get("description") or name),
        conditions=tuple(_condition(name, c, features) for c in conditions),
    )


def rule_entries(text: str) -> list[object]:
    """The raw entries of a YAML rule file's ``rules`` list (not yet validated)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleError(f"the rule file is not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise RuleError("the rule file must be a mapping with a 'rules' list")
    return document["rules"]


def parse_rules(text: str, features: frozenset[str] | set[str]) -> RuleSet:
    """Validate a YAML rule file against the known feature names."""
    entries = rule_entries(text)
    rules = tuple(_rule(raw, i, frozenset(features)) for i, raw in enumerate(entries))
    names = [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RuleError(f"rule names must be unique; repeated: {duplicates}")
    return RuleSet(rules, text)


def default_rules_text() -> str:
    return resources.files("detection.rules").joinpath("default.yaml").read_text(encoding="utf-8")


def load_rules(path: str | Path | None, features: frozenset[str] | set[str]) -> RuleSet:
    text = Path(path).read_text(encoding="utf-8") if path else default_rules_text()
    return parse_rules(text, features)
