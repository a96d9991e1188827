"""The online scorer: loads a deployed bundle (verifying every hash) and scores messages in
milliseconds, with the reasons an analyst needs. No Dagster here: production needs only this."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from detection.features.behaviour import BehaviourState, has_history
from detection.features.terms import TERMS_VERSIONS
from detection.features.text import TEXT_SCORE, Found, TextModel
from detection.features.vector import DESCRIPTIONS, message_values
from detection.mail.parsing import parse_message
from detection.mail.schema import Message
from detection.mail.visible import Visible
from detection.rules import Rule, parse_rules
from detection.serving.artifact import MODEL_FILE, RULES_FILE, Bundle, BundleError
from detection.serving.detectors import Detector, detectors_of
from detection.serving.explain import PathExplainer
from detection.serving.forest import Forest, UnsupportedModel
from detection.serving.registry import load_production, read_production
from detection.serving.stores import ArtifactStore, open_store

if TYPE_CHECKING:
    import lightgbm as lgb

TOP_REASONS = 3
ATTRIBUTIONS = ("path", "shap")


@dataclass(frozen=True)
class Verdict:
    message_id: str
    score: float
    verdict: str
    reasons: tuple[str, ...]
    rules: tuple[str, ...] = field(default=())
    detectors: tuple[str, ...] = field(default=())  # the specialised detectors that fired

    def as_dict(self) -> dict[str, object]:
        return {
            "message_id": self.message_id,
            "score": round(self.score, 6),
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "rules": list(self.rules),
            "detectors": list(self.detectors),
        }


class Scorer:
    """Scores messages with one verified bundle: ``Scorer(bundle)`` or :meth:`load`."""

    def __init__(
        self,
        bundle: Bundle,
        store: ArtifactStore | None = None,
        *,
        num_threads: int = 1,
        attribution: str = "path",
    ) -> None:
        """``attribution``: how reasons rank features. ``path`` (default) sums attributions
        precomputed per leaf (a quarter of TreeSHAP's cost, see :mod:`detection.serving.explain`);
        ``shap`` runs LightGBM's exact TreeSHAP for each explained message (the only use of
        LightGBM here: the model is evaluated by :class:`Forest`)."""
        if attribution not in ATTRIBUTIONS:
            raise ValueError(f"attribution must be one of {ATTRIBUTIONS}, not {attribution!r}")
        self.bundle = bundle
        self.attribution = attribution
        self.num_threads = num_threads  # one row at a time: threads cost more than they save
        self.store = store
        self.version = bundle.version
        self.features = bundle.features
        self.threshold = bundle.threshold
        self.tenant_thresholds = bundle.tenant_thresholds
        self.with_history_threshold = bundle.with_history_threshold
        try:
            self.forest = Forest.from_text(bundle.files[MODEL_FILE].decode())
        except (UnsupportedModel, UnicodeDecodeError) as exc:
            raise BundleError(f"bundle {self.version}: its model cannot be read: {exc}") from exc
        if self.forest.feature_count != len(self.features):
            raise BundleError(
                f"bundle {self.version}: its model reads {self.forest.feature_count} features, "
                f"its feature list names {len(self.features)}; rebuild the bundle"
            )
        self.terms_version = bundle.terms_version
        if self.terms_version not in TERMS_VERSIONS:
            raise BundleError(
                f"bundle {self.version} learnt from content signals' term families version "
                f"{self.terms_version}; this scorer counts versions {list(TERMS_VERSIONS)}: "
                "upgrade the scorer before serving it"
            )
        self.rules = parse_rules(bundle.files[RULES_FILE].decode(), set(self.features))
        self.explainer = PathExplainer(self.forest) if attribution == "path" else None
        self.state = BehaviourState.from_tables(bundle.snapshot())
        text = bundle.text_model
        self.text_model = TextModel.from_bytes(text) if text is not None else None
        self.uses_text = TEXT_SCORE in self.features
        self.detectors = detectors_of(bundle)
        if self.uses_text and self.text_model is None:
            raise BundleError(f"bundle {self.version} uses {TEXT_SCORE} but holds no text model")

    @classmethod
    def load(
        cls, uri: str | Path, *, endpoint_url: str | None = None, attribution: str = "path"
    ) -> Scorer:
        """A bundle directory, or a store (directory or ``s3://bucket/prefix``) whose production
        pointer names the bundle. Hashes are verified before anything is used."""
        text = str(uri)
        if not text.startswith("s3://") and (Path(text) / "manifest.json").is_file():
            return cls(Bundle.read_dir(Path(text)), attribution=attribution)
        store = open_store(text, endpoint_url=endpoint_url)
        return cls(load_production(store), store, attribution=attribution)

    def refresh(self) -> Scorer:
        """A new scorer when the store's production pointer moved, else this one (hash-verified)."""
        if self.store is None:
            return self
        pointer = read_production(self.store)
        if pointer is None or pointer.version == self.version:
            return self
        return Scorer(
            load_production(self.store),
            self.store,
            num_threads=self.num_threads,
            attribution=self.attribution,
        )

    def threshold_for(self, tenant_id: str) -> float:
        """The tenant's own threshold when the bundle has one; else the one for tenants with
        history when the snapshot knows the tenant; else the one for mail without history."""
        if tenant_id in self.tenant_thresholds:
            return self.tenant_thresholds[tenant_id]
        if has_history(tenant_id, self.state.tenants):
            return self.with_history_threshold
        return self.threshold

    def prepare_for_serving(self) -> Scorer:
        """Call once in a serving process after loading (and after each refresh that returned a
        new scorer), before taking traffic. Moves every object alive now, the behavioural
        snapshot above all, out of the cyclic garbage collector's reach (``gc.freeze``): with
        the snapshot of a 20-organisation, one-million-message history (about 140,000 objects)
        a full collection stalls whichever message triggers it for over 100 ms. Frozen objects are
        still freed by reference counting when a replaced scorer is dropped."""
        gc.collect()
        gc.freeze()
        return self

    @cached_property
    def booster(self) -> lgb.Booster:
        """The model as a LightGBM booster: for TreeSHAP (``attribution="shap"``) only."""
        import lightgbm as lgb

        return lgb.Booster(model_str=self.bundle.files[MODEL_FILE].decode())

    # --- scoring ---------------------------------------------------------------------------

    def feature_vector(self, message: Message) -> dict[str, float]:
        """Content signals, structure features, the text model's score and behavioural features
        from the bundle's snapshot (NaN where the tenant has no history)."""
        return self._features(message)[0]

    def _features(self, message: Message) -> tuple[dict[str, float], Found | None]:
        """:meth:`feature_vector` and the text model's terms of the message (none without a
        text model): found once, for the score and for the reasons."""
        visible = Visible.of(message.body_text)  # once, for the signals and the text model
        values = message_values(message, visible, self.terms_version)
        found = None
        if self.text_model is not None:
            found = self.text_model.find(self.text_model.message_words(message, visible.head))
            values[TEXT_SCORE] = self.text_model.score_found(found)
        values.update(self.state.features(message))
        return values, found

    def feature_row(self, values: dict[str, float]) -> np.ndarray:
        """The model's input row (shape ``(1, features)``) for one message's feature values."""
        return np.array([[values[name] for name in self.features]], dtype=float)

    def contributions(self, row: np.ndarray, leaves: np.ndarray | None = None) -> np.ndarray:
        """Each feature's share of one row's raw score (log-odds), by the chosen attribution.
        ``leaves``: the row's leaf nodes when scoring found them already."""
        if self.explainer is not None:
            if leaves is not None:
                return self.explainer.attributions(leaves)
            return self.explainer.explain(row)
        shap = self.booster.predict(row, pred_contrib=True, num_threads=self.num_threads)
        return np.asarray(shap, dtype=float)[0][:-1]

    def _reasons(
        self,
        row: np.ndarray,
        fired: list[Rule],
        found: Found | None = None,
        detectors: list[tuple[Detector, float]] | None = None,
        leaves: np.ndarray | None = None,
    ) -> tuple[str, ...]:
        contributions = self.contributions(row, leaves)
        order = np.argsort(-contributions)
        reasons = [d.reason(score) for d, score in detectors or ()]
        reasons += [f"rule {r.name}: {r.description}" for r in fired]
        shown = 0
        for index in order:
            if contributions[index] <= 0 or shown == TOP_REASONS:
                break
            if np.isnan(row[0, index]):  # unknown (no tenant history): not evidence to show
                continue
            shown += 1
            name = self.features[index]
            if name == TEXT_SCORE and found is not None and self.text_model is not None:
                words = ", ".join(self.text_model.top_of(found))
                reasons.append(f"{DESCRIPTIONS[name]}: {words or 'the message as a whole'}")
                continue
            reasons.append(f"{DESCRIPTIONS.get(name, name)} ({name}={row[0, index]:g})")
        return tuple(reasons)

    def explain_values(self, values: dict[str, float]) -> tuple[str, ...]:
        """The reasons for one message's feature values (every feature of the bundle): the
        specialised detectors and rules that fire, then the features that pushed most towards
        attack. Without the message the text model's reason carries its score, not its words."""
        return self._reasons(
            self.feature_row(values),
            self.rules.fired(values),
            None,
            self.detectors.fired_one(values),
        )

    def score_message(self, message: Message, *, explain: bool | None = None) -> Verdict:
        """Score one parsed message. ``explain``: reasons for every verdict (True), none (False),
        or only for attack verdicts (None, the default: what an analyst reads, at the cost of
        attributions only for the few messages flagged)."""
        values, found = self._features(message)
        row = self.feature_row(values)
        leaves = self.forest.leaves(row)  # found once: for the score and for the reasons
        score = float(self.forest.probabilities(leaves)[0])
        detectors = self.detectors.fired_one(values)
        return self._verdict(message, values, found, row, score, detectors, explain, leaves[0])

    def _verdict(
        self,
        message: Message,
        values: dict[str, float],
        found: Found | None,
        row: np.ndarray,
        score: float,
        detectors: list[tuple[Detector, float]],
        explain: bool | None,
        leaves: np.ndarray | None = None,
    ) -> Verdict:
        """Attack when the score reaches the threshold, a force_attack rule fires, or one of
        the bundle's specialised detectors fires (detection.model.detectors says why a union)."""
        fired = self.rules.fired(values)
        forced = bool(detectors) or any(r.action == "force_attack" for r in fired)
        verdict = "attack" if forced or score >= self.threshold_for(message.tenant_id) else "safe"
        wanted = verdict == "attack" if explain is None else explain
        reasons = self._reasons(row, fired, found, detectors, leaves) if wanted else ()
        return Verdict(
            message.message_id,
            score,
            verdict,
            reasons,
            tuple(r.name for r in fired),
            tuple(d.name for d, _ in detectors),
        )

    def score_bytes(
        self,
        raw: bytes,
        *,
        tenant_id: str = "default",
        received_at: datetime | None = None,
        explain: bool | None = None,
    ) -> Verdict:
        """Parse raw RFC 822 bytes and score them. Raises ``ParseError`` for unparseable input.

        ``received_at`` is the arrival time (default: now). Behavioural history is measured against
        it, never against the sender-controlled Date header."""
        message = parse_message(raw, tenant_id=tenant_id)
        message.received_at = received_at or datetime.now(UTC)
        return self.score_message(message, explain=explain)

    def score_batch(self, messages: list[Message], *, explain: bool = False) -> list[Verdict]:
        """Many messages in one LightGBM call: the fast path for bulk scoring."""
        if not messages:
            return []
        # a message's terms are kept only for the reasons: without them, dropped as found
        featured = [
            (values, found if explain else None) for values, found in map(self._features, messages)
        ]
        vectors = [values for values, _ in featured]
        matrix = np.array([[v[name] for name in self.features] for v in vectors], dtype=float)
        leaves = self.forest.leaves(matrix)
        scores = self.forest.probabilities(leaves)
        detectors = self.detectors.fired_rows(vectors)  # one call per detector, not per message
        return [
            self._verdict(
                message,
                values,
                found,
                matrix[i : i + 1],
                float(scores[i]),
                fired,
                explain,
                leaves[i],
            )
            for i, (message, (values, found), fired) in enumerate(
                zip(messages, featured, detectors, strict=True)
            )
        ]
