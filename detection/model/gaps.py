"""Capability gaps: the attacks a bundle misses on a replayed window, grouped by what was absent
and by the sender's relationship with the recipient's organisation, each group with candidate
rules mined from its misses and their false-positive cost measured on the window's safe mail.

What was absent (a miss can be in several groups):

- ``no link``: nothing to click (``url_count`` 0): BEC, advance-fee and callback scams;
- ``known sender``: the sender wrote to the organisation before (a compromised account or a
  hijacked thread), so history says "normal";
- ``clean content``: none of the red-flag signals fired (no urgency, credential, payment or bank
  words, no lookalike, no risky link or attachment);
- ``ordinary language``: the text model reads it as safe (text score below 0);
- ``new tactic``: its category had fewer than ``NEW_TACTIC_MIN`` labelled attacks before the
  window, so no model had much to learn it from.

Sender relationship (exactly one): no history (the tenant has none: pooled mail), first contact,
a new sender at a known domain, a known sender the recipient never answered, an established
correspondent.

Rule ideas: single conditions (a feature at or above, or at or below, a quantile of its values
among the group's misses) and pairs of the best ones, ranked by the group's misses they catch
among those within the false-positive cap; each is then checked through the rule engine itself
(:func:`detection.rules.parse_rules` on the rule's YAML) and its cost is the window's safe mail the
bundle passes today that the rule would flag (new false positives), with counts and intervals.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from detection.mail.schema import ATTACK_CATEGORIES
from detection.model.intervals import Rate
from detection.rules import parse_rules

if TYPE_CHECKING:
    import pandas as pd

NEW_TACTIC_MIN = 30
ABSENT = ("no link", "known sender", "clean content", "ordinary language", "new tactic")
RELATIONSHIPS = (
    "no history",
    "first contact",
    "new sender, known domain",
    "known sender, never answered",
    "established correspondent",
)
# signals whose firing (> 0) is evidence of attack; none firing is "clean content"
RED_FLAGS = (
    "display_name_has_other_domain",
    "display_name_brand_impersonation",
    "display_name_has_confusables",
    "reply_to_domain_differs",
    "sender_brand_lookalike",
    "terms_urgency",
    "terms_payment",
    "terms_credential",
    "terms_bank_change",
    "terms_secrecy",
    "terms_extortion",
    "subject_urgency",
    "url_ip_host",
    "url_punycode_or_confusable",
    "url_shortener",
    "url_brand_lookalike",
    "url_brand_in_subdomain",
    "url_text_domain_differs",
    "attachment_executable",
    "attachment_double_extension",
    "attachment_macro",
    "attachment_html",
    "html_form",
    "zero_width_chars",
    "display_name_seen_internal",
    "display_name_vip_external",
    "sender_lookalike_of_known_domain",
    "url_lookalike_of_known_domain",
)
# every feature the groups read (the rule ideas read the bundle's features)
GAP_FEATURES = (
    *RED_FLAGS,
    "url_count",
    "sender_prior_messages",
    "domain_prior_messages",
    "recipient_has_replied",
    "text_score",
)
QUANTILES = (0.25, 0.5, 0.75)
PAIR_CANDIDATES = 12
IDEAS_PER_GROUP = 3
DEFAULT_CATEGORY = "credential_phishing"  # a rule's category when its catches name none


@dataclass(frozen=True)
class Condition:
    feature: str
    op: str  # ">=" or "<="
    value: float

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        column = frame[self.feature].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            return column >= self.value if self.op == ">=" else column <= self.value

    def yaml(self) -> str:
        # positional: YAML reads "1e-05" as a string, "0.00001" as a number
        value = np.format_float_positional(self.value, trim="-")
        return f'{{feature: {self.feature}, op: "{self.op}", value: {value}}}'


def _rule_yaml(name: str, category: str, group: str, conditions: tuple[Condition, ...]) -> str:
    """One ``force_attack`` rule of a rules file's ``rules`` list."""
    lines = "\n".join(f"      - {c.yaml()}" for c in conditions)
    return (
        f"  - name: {name}\n"
        f"    category: {category}\n"
        "    action: force_attack\n"
        f"    description: Candidate from the capability-gap report ({group}).\n"
        f"    all:\n{lines}\n"
    )


@dataclass(frozen=True)
class RuleIdea:
    group: str
    category: str  # the category most of its catches have (the rule's category)
    conditions: tuple[Condition, ...]
    catches: Rate  # of the group's misses
    catches_all: Rate  # of every miss in the window
    new_false_positives: Rate  # safe mail the bundle passes that it flags, of all safe mail

    def name(self, index: int) -> str:
        return f"idea_{self.group.replace(' ', '_').replace(',', '')}_{index}"

    def yaml(self, index: int) -> str:
        return _rule_yaml(self.name(index), self.category, self.group, self.conditions)

    def describe(self) -> str:
        return " and ".join(f"{c.feature} {c.op} {c.value:.4g}" for c in self.conditions)


@dataclass(frozen=True)
class Gaps:
    misses: int
    attacks: int
    by_absent: pd.DataFrame  # group, category, misses, attacks in category
    by_relationship: pd.DataFrame
    ideas: list[RuleIdea]


def _value(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return frame[name].to_numpy(dtype=float)


def absent_groups(
    frame: pd.DataFrame, history: dict[str, int], min_history: int = NEW_TACTIC_MIN
) -> dict[str, np.ndarray]:
    """A mask per group of :data:`ABSENT` over the rows of ``frame``; ``history``: labelled
    attacks per category before the window."""
    flags = [np.nan_to_num(_value(frame, f)) > 0 for f in RED_FLAGS if f in frame.columns]
    any_flag = np.logical_or.reduce(flags) if flags else np.zeros(len(frame), dtype=bool)
    categories = frame["category"].astype(str)
    return {
        "no link": np.nan_to_num(_value(frame, "url_count")) == 0,
        "known sender": np.nan_to_num(_value(frame, "sender_prior_messages")) > 0,
        "clean content": ~any_flag,
        "ordinary language": np.nan_to_num(_value(frame, "text_score"), nan=0.0) < 0,
        "new tactic": categories.map(lambda c: history.get(c, 0) < min_history).to_numpy(
            dtype=bool
        ),
    }


def relationship(frame: pd.DataFrame) -> np.ndarray:
    sender = _value(frame, "sender_prior_messages")
    domain = np.nan_to_num(_value(frame, "domain_prior_messages"))
    replied = np.nan_to_num(_value(frame, "recipient_has_replied"))
    out = np.full(len(frame), RELATIONSHIPS[4], dtype=object)
    known = sender > 0
    out[known & (replied <= 0)] = RELATIONSHIPS[3]
    out[(sender == 0) & (domain > 0)] = RELATIONSHIPS[2]
    out[(sender == 0) & (domain <= 0)] = RELATIONSHIPS[1]
    out[np.isnan(sender)] = RELATIONSHIPS[0]
    return out


def _crosstab(labels: dict[str, np.ndarray], frame: pd.DataFrame, missed: np.ndarray, key: str):
    import pandas as pd

    attacks = frame["label"].to_numpy() == "attack"
    categories = frame["category"].astype(str).to_numpy()
    per_category = Counter(categories[attacks].tolist())
    rows = []
    for name, mask in labels.items():
        hit = missed & mask
        for category, count in sorted(Counter(categories[hit].tolist()).items()):
            rows.append(
                {
                    key: name,
                    "category": category,
                    "misses": int(count),
                    "attacks": per_category[category],
                    "share_of_category": count / per_category[category],
                }
            )
    return pd.DataFrame(rows, columns=[key, "category", "misses", "attacks", "share_of_category"])


def _candidates(frame: pd.DataFrame, group: np.ndarray, features: list[str]) -> list[Condition]:
    out = []
    for name in features:
        values = _value(frame, name)[group]
        values = values[~np.isnan(values)]
        if not len(values):
            continue
        for q in QUANTILES:
            cut = float(f"{float(np.quantile(values, q)):.6g}")  # as the rule's YAML writes it
            out.append(Condition(name, "<=", cut))
            if cut > 0:
                out.append(Condition(name, ">=", cut))
    return list(dict.fromkeys(out))


def mine_rules(
    frame: pd.DataFrame,
    missed: np.ndarray,
    passed_safe: np.ndarray,
    groups: dict[str, np.ndarray],
    features: list[str],
    *,
    fpr_cap: float,
) -> list[RuleIdea]:
    """Up to :data:`IDEAS_PER_GROUP` rules per group: the most of the group's misses caught with
    at most ``fpr_cap`` of the window's safe mail newly flagged."""
    safe_total = int((frame["label"].to_numpy() == "safe").sum())
    categories = frame["category"].astype(str).to_numpy()
    ideas: list[RuleIdea] = []
    proposed: set[tuple[Condition, ...]] = set()  # an idea shows once, under its first group
    for name, mask in groups.items():
        group = missed & mask
        n = int(group.sum())
        if n < 2:
            continue
        singles = _candidates(frame, group, features)
        masks: dict[tuple[Condition, ...], np.ndarray] = {(c,): c.mask(frame) for c in singles}
        scored = sorted(masks, key=lambda k: -int((masks[k] & group).sum()))[:PAIR_CANDIDATES]
        for a, b in itertools.combinations(scored, 2):
            if a[0].feature != b[0].feature:
                masks[(a[0], b[0])] = masks[a] & masks[b]
        ranked: list[tuple[int, int, int, tuple[Condition, ...]]] = []
        for conditions, hits in masks.items():
            caught = int((hits & group).sum())
            cost = int((hits & passed_safe).sum())
            if caught >= 2 and cost <= fpr_cap * safe_total and conditions not in proposed:
                ranked.append((-caught, cost, len(conditions), conditions))
        ranked.sort(key=lambda r: (r[0], r[1], r[2], [c.yaml() for c in r[3]]))
        for _, _, _, conditions in ranked[:IDEAS_PER_GROUP]:
            proposed.add(conditions)
            hits = fired(conditions, frame, features)
            caught = [c for c in categories[hits & group] if c in ATTACK_CATEGORIES]
            category = max(sorted(set(caught)), key=caught.count) if caught else DEFAULT_CATEGORY
            ideas.append(
                RuleIdea(
                    name,
                    category,
                    conditions,
                    Rate.of(int((hits & group).sum()), n),
                    Rate.of(int((hits & missed).sum()), int(missed.sum())),
                    Rate.of(int((hits & passed_safe).sum()), safe_total),
                )
            )
    return ideas


def fired(
    conditions: tuple[Condition, ...], frame: pd.DataFrame, features: list[str]
) -> np.ndarray:
    """The rows a rule of these conditions fires on, through the rule engine on its YAML: the
    figures an idea reports are what a replay of it sees, not the search's masks."""
    rule = _rule_yaml("idea", DEFAULT_CATEGORY, "measured", conditions)
    return parse_rules(f"rules:\n{rule}", set(features)).forced(frame)


def capability_gaps(
    frame: pd.DataFrame,
    attack_decided: np.ndarray,
    features: list[str],
    history: dict[str, int],
    *,
    fpr_cap: float = 0.001,
) -> Gaps:
    """The gaps of a bundle whose decisions on ``frame`` (the window, with its text scores) are
    ``attack_decided``."""
    label = frame["label"].to_numpy()
    missed = (label == "attack") & ~attack_decided
    passed_safe = (label == "safe") & ~attack_decided
    groups = absent_groups(frame, history)
    relation = relationship(frame)
    relations = {name: relation == name for name in RELATIONSHIPS}
    ideas = mine_rules(frame, missed, passed_safe, groups, features, fpr_cap=fpr_cap)
    return Gaps(
        int(missed.sum()),
        int((label == "attack").sum()),
        _crosstab(groups, frame, missed, "absent"),
        _crosstab(relations, frame, missed, "relationship"),
        ideas,
    )
