"""Per-message explanations for the online scorer: path attributions precomputed per leaf.

TreeSHAP (LightGBM's ``pred_contrib``) costs about as much as the rest of scoring a message put
together. The scorer instead uses *path attributions* (Saabas, as in ``treeinterpreter``): each
split on the path a message takes through a tree credits its feature with the change in the
node's expected output. They depend only on the leaf a message reaches, so every leaf's vector is
computed once when the model loads; explaining a message is then one ``pred_leaf`` call and a sum
of one row per tree. Like TreeSHAP they add up exactly: bias + sum of attributions = the model's
raw score (log-odds). Offline analysis (``error_analysis``) keeps TreeSHAP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import lightgbm as lgb


class PathExplainer:
    """Attributions of a binary LightGBM model's raw score to its features, per leaf."""

    def __init__(self, booster: lgb.Booster) -> None:
        dump = booster.dump_model()
        if dump.get("num_tree_per_iteration", 1) != 1:
            raise ValueError("path attributions are built for binary (one tree per round) models")
        self.booster = booster
        self.features = int(dump["max_feature_idx"]) + 1
        trees = dump["tree_info"]
        most_leaves = max(int(t["num_leaves"]) for t in trees) if trees else 1
        self.table = np.zeros((len(trees), most_leaves, self.features))
        self.bias = 0.0
        for index, tree in enumerate(trees):
            root = tree["tree_structure"]
            self.bias += _value(root)
            self._fill(self.table[index], root, np.zeros(self.features))
        self._trees = np.arange(len(trees))

    def _fill(self, leaves: np.ndarray, node: dict[str, Any], path: np.ndarray) -> None:
        """Walk one tree, carrying the attributions accumulated on the way down to each leaf."""
        if "leaf_index" in node or "split_feature" not in node:
            leaves[int(node.get("leaf_index", 0))] = path
            return
        here = _value(node)
        for side in ("left_child", "right_child"):
            child = node[side]
            step = path.copy()
            step[int(node["split_feature"])] += _value(child) - here
            self._fill(leaves, child, step)

    def attributions(self, leaf_indices: np.ndarray) -> np.ndarray:
        """Per-feature attributions for one row of ``Booster.predict(..., pred_leaf=True)``."""
        return self.table[self._trees, np.asarray(leaf_indices, dtype=np.intp)].sum(axis=0)

    def explain(self, row: np.ndarray, num_threads: int = 1) -> np.ndarray:
        """Attributions for one feature row (shape ``(1, features)``)."""
        leaves = self.booster.predict(row, pred_leaf=True, num_threads=num_threads)
        return self.attributions(np.asarray(leaves)[0])


def _value(node: dict[str, Any]) -> float:
    return float(node["leaf_value"] if "leaf_value" in node else node["internal_value"])
