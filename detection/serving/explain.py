"""Per-message explanations for the online scorer: path attributions precomputed per leaf.

TreeSHAP (LightGBM's ``pred_contrib``) costs about as much as the rest of scoring a message put
together. The scorer instead uses *path attributions* (Saabas, as in ``treeinterpreter``): each
split on the path a message takes through a tree credits its feature with the change in the
node's expected output. They depend only on the leaf a message reaches, so every leaf's vector is
computed once when the model loads; explaining a message is then finding its leaves
(:meth:`Forest.leaves`) and a sum of one row per tree. Like TreeSHAP they add up exactly: bias +
sum of attributions = the model's raw score (log-odds). Offline analysis (``error_analysis``)
keeps TreeSHAP.
"""

from __future__ import annotations

import numpy as np

from detection.serving.forest import Forest


class PathExplainer:
    """Attributions of a binary model's raw score to its features, per leaf."""

    def __init__(self, forest: Forest) -> None:
        self.forest = forest
        self.features = forest.feature_count
        leaves = np.flatnonzero(forest.leaf >= 0)
        self._row = np.full(len(forest.value), -1, dtype=np.intp)  # a leaf node's table row
        self._row[leaves] = np.arange(len(leaves))
        self.table = np.zeros((len(leaves), self.features))
        self.bias = float(forest.value[forest.roots].sum()) if forest.trees else 0.0
        for root in forest.roots:
            self._fill(int(root), np.zeros(self.features))

    def _fill(self, node: int, path: np.ndarray) -> None:
        """Walk one tree, carrying the attributions accumulated on the way down to each leaf."""
        forest = self.forest
        if forest.leaf[node] >= 0:
            self.table[self._row[node]] = path
            return
        here = forest.value[node]
        for child in (int(forest.children[2 * node + 1]), int(forest.children[2 * node])):
            step = path.copy()
            step[forest.feature[node]] += forest.value[child] - here
            self._fill(child, step)

    def attributions(self, leaf_nodes: np.ndarray) -> np.ndarray:
        """Per-feature attributions for one row of :meth:`Forest.leaves`."""
        return self.table[self._row[np.asarray(leaf_nodes, dtype=np.intp)]].sum(axis=0)

    def explain(self, row: np.ndarray) -> np.ndarray:
        """Attributions for one feature row (shape ``(1, features)``)."""
        return self.attributions(self.forest.leaves(row)[0])
