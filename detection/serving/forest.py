"""A LightGBM binary model read from its model text and evaluated with NumPy.

The online scorer does not import LightGBM: importing it loads SciPy's sparse matrices (0.7 s of
the 2.2 s the CLI took to score one message), and its Python wrapper costs more per row than
the trees do. The model text (the bundle's ``model.txt``, LightGBM's own format) is read into
flat arrays, one entry per node of every tree, leaves included; one row is scored by deciding
every split at once (a handful of NumPy operations over all nodes) and then stepping each tree
from its root as many times as the deepest tree is deep (leaves step onto themselves); many rows
are stepped level by level, each step deciding only the nodes the rows stand on. The
decision is LightGBM's ``NumericalDecision``: with missing type NaN a NaN takes the node's
default side; otherwise NaN reads as 0, and with missing type Zero a zero takes the default
side; else ``value <= threshold`` goes left (values within 1e-35 of 0 read as 0, as LightGBM's
predictor stores them). The leaves' values (shrinkage included) are summed and put through the
sigmoid. Probabilities equal LightGBM's to 1e-12 on every bundle format and on rows with NaN
and zeros (tested against LightGBM itself).

Models this does not evaluate (multiclass, categorical splits, linear trees, averaged output)
raise :class:`UnsupportedModel`; the trainer makes none of them. For one row this costs what
LightGBM's ``predict`` costs (about 50 µs for 200 trees); for thousands of rows at once LightGBM's
C++ is about ten times faster, so bulk paths (training, evaluation, the what-if replay) call
LightGBM and the scorer, which scores one message at a time, uses this.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

# LightGBM's kZeroThreshold: a C++ float literal (1e-35f) compared as a double
ZERO_THRESHOLD = float(np.float32(1e-35))
_DEFAULT_LEFT = 2  # decision_type bit
_CATEGORICAL = 1  # decision_type bit
_MISSING_ZERO, _MISSING_NAN = 1, 2  # (decision_type >> 2) & 3
_CHUNK_ROWS = 4096  # rows stepped at once: a few (rows, trees) arrays


class UnsupportedModel(ValueError):
    """A model text this evaluator cannot read or evaluate; the message says what and why."""


def _fields(block: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition("=")
        found[key.strip()] = value.strip() if sep else ""
    return found


def _numbers(tree: dict[str, str], key: str, kind: type, count: int, where: str) -> np.ndarray:
    try:
        values = np.array(tree[key].split(), dtype=kind)
    except (KeyError, ValueError) as exc:
        raise UnsupportedModel(f"{where}: no readable {key} ({type(exc).__name__})") from exc
    if len(values) != count:
        raise UnsupportedModel(f"{where}: {key} has {len(values)} values, expected {count}")
    return values


@dataclass(frozen=True)
class Forest:
    """Every tree of one model as flat node arrays (``nodes`` entries, leaves included)."""

    feature_count: int
    feature_names: tuple[str, ...]
    sigmoid: float
    roots: np.ndarray  # (trees,) the node each tree starts at
    feature: np.ndarray  # (nodes,) the split's feature (0 on leaves)
    threshold: np.ndarray  # (nodes,)
    default_left: np.ndarray  # (nodes,) bool
    missing_zero: np.ndarray  # (nodes,) bool
    missing_nan: np.ndarray  # (nodes,) bool
    children: np.ndarray  # (nodes * 2,) [right, left] of each node; a leaf's are itself
    value: np.ndarray  # (nodes,) a leaf's value; an internal node's expected value
    leaf: np.ndarray  # (nodes,) a leaf's index in its tree, -1 for internal nodes
    depth: int  # the deepest tree's depth

    @property
    def trees(self) -> int:
        return len(self.roots)

    @cached_property
    def _defaults(self) -> tuple[np.ndarray, ...]:
        """The nodes with a missing type (NaN or Zero): their split features, types, sides."""
        nodes = np.flatnonzero(self.missing_nan | self.missing_zero)
        return (
            nodes,
            self.feature[nodes],
            self.missing_nan[nodes],
            self.missing_zero[nodes],
            self.default_left[nodes],
        )

    @cached_property
    def _sides(self) -> tuple[np.ndarray, np.ndarray]:
        return self.children[1::2].copy(), self.children[0::2].copy()

    @classmethod
    def from_text(cls, text: str) -> Forest:
        """Read LightGBM's model text (``Booster.model_to_string``)."""
        head, _, body = text.partition("\nTree=")
        header = _fields(head)
        if header.get("num_tree_per_iteration", "1") != "1" or header.get("num_class", "1") != "1":
            raise UnsupportedModel("the model is not a binary model (one tree per round)")
        objective = header.get("objective", "").split()
        if not objective or objective[0] != "binary":
            raise UnsupportedModel(f"the objective {header.get('objective')!r} is not binary")
        if "average_output" in header:
            raise UnsupportedModel("the model averages its trees (random forest boosting)")
        sigmoid = 1.0
        for option in objective[1:]:
            if option.startswith("sigmoid:"):
                sigmoid = float(option.partition(":")[2])
        try:
            feature_count = int(header["max_feature_idx"]) + 1
        except (KeyError, ValueError) as exc:
            raise UnsupportedModel("the model text has no max_feature_idx") from exc
        names = tuple(header.get("feature_names", "").split())
        blocks = ("Tree=" + body).split("end of trees")[0].split("\nTree=") if body else []
        arrays: dict[str, list[np.ndarray]] = {k: [] for k in _PER_NODE}
        roots, depth, base = [], 0, 0
        for index, block in enumerate(blocks):
            tree = _fields(block)
            where = f"tree {index}"
            if tree.get("num_cat", "0") != "0" or tree.get("is_linear", "0") != "0":
                raise UnsupportedModel(f"{where}: categorical splits or a linear tree")
            nodes, tree_depth = _tree_arrays(tree, base, feature_count, where)
            for key, values in nodes.items():
                arrays[key].append(values)
            roots.append(base)
            depth = max(depth, tree_depth)
            base += len(nodes["value"])
        joined = {
            k: np.concatenate(v) if v else np.zeros(0, _PER_NODE[k]) for k, v in arrays.items()
        }
        return cls(
            feature_count=feature_count,
            feature_names=names,
            sigmoid=sigmoid,
            roots=np.array(roots, dtype=np.intp),
            feature=joined["feature"],
            threshold=joined["threshold"],
            default_left=joined["default_left"],
            missing_zero=joined["missing_zero"],
            missing_nan=joined["missing_nan"],
            children=joined["children"],
            value=joined["value"],
            leaf=joined["leaf"],
            depth=depth,
        )

    def leaves(self, rows: np.ndarray) -> np.ndarray:
        """The node each row reaches in each tree, shape ``(rows, trees)``."""
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.feature_count:
            raise ValueError(
                f"rows of {self.feature_count} features expected, got shape {rows.shape}"
            )
        return (
            np.concatenate(
                [self._reach(rows[i : i + _CHUNK_ROWS]) for i in range(0, len(rows), _CHUNK_ROWS)]
            )
            if len(rows)
            else np.zeros((0, self.trees), dtype=np.intp)
        )

    def _reach(self, rows: np.ndarray) -> np.ndarray:
        # the rows' values as LightGBM's predictor holds them: NaN and |v| <= 1e-35 read as 0
        values = rows.copy()
        nan = np.isnan(values)
        values[nan | (np.abs(values) <= ZERO_THRESHOLD)] = 0.0
        left_child, right_child = self._sides
        if len(rows) > 1:  # many rows: each tree stepped level by level, (rows, trees) at a time
            at = np.broadcast_to(self.roots, (len(rows), self.trees)).copy()
            row = np.arange(len(rows))[:, None]
            for _ in range(self.depth):
                feature = self.feature[at]
                value = values[row, feature]
                left = value <= self.threshold[at]
                taken = (self.missing_nan[at] & nan[row, feature]) | (
                    self.missing_zero[at] & (value == 0.0)
                )
                left = np.where(taken, self.default_left[at], left)
                at = np.where(left, left_child[at], right_child[at])
            return at
        # one row (the scorer's case): every split decided at once, then a gather per level
        at_node = values[:, self.feature]
        left = at_node <= self.threshold
        nodes, feature, by_nan, by_zero, default = self._defaults
        if nodes.size:  # the nodes whose missing type sends NaN (or zero) to a default side
            taken = by_nan & nan[:, feature]
            taken |= by_zero & (values[:, feature] == 0.0)
            _, which = np.nonzero(taken)
            left[0, nodes[which]] = default[which]
        step = np.where(left[0], left_child, right_child)  # each node's next (a leaf: itself)
        at = self.roots
        for _ in range(self.depth):
            at = step[at]
        return at[None, :]

    def probabilities(self, leaves: np.ndarray) -> np.ndarray:
        """Probabilities of attack from the leaves rows reached (:meth:`leaves`): the sigmoid of
        the sum of their values (log-odds). Log-odds below about -709 overflow ``exp`` to
        infinity and give 0.0, as LightGBM's own sigmoid does: the overflow is the answer, not an
        error, so NumPy is not asked to warn about it."""
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-self.sigmoid * self.value[leaves].sum(axis=1)))

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Probabilities of attack, as ``Booster.predict``."""
        return self.probabilities(self.leaves(rows))


_PER_NODE: dict[str, type] = {
    "feature": np.intp,
    "threshold": np.float64,
    "default_left": np.bool_,
    "missing_zero": np.bool_,
    "missing_nan": np.bool_,
    "children": np.intp,
    "value": np.float64,
    "leaf": np.intp,
}


def _tree_arrays(
    tree: dict[str, str], base: int, feature_count: int, where: str
) -> tuple[dict[str, np.ndarray], int]:
    """One tree's nodes: its internal nodes (0 .. leaves-2), then its leaves, from ``base``."""
    try:
        leaves = int(tree["num_leaves"])
    except (KeyError, ValueError) as exc:
        raise UnsupportedModel(f"{where}: no num_leaves") from exc
    if leaves < 1:
        raise UnsupportedModel(f"{where}: {leaves} leaves")
    internal = leaves - 1
    leaf_value = _numbers(tree, "leaf_value", np.float64, leaves, where)
    feature = decision = left = right = np.zeros(0, dtype=np.intp)
    threshold = internal_value = np.zeros(0)
    if internal:
        feature = _numbers(tree, "split_feature", np.intp, internal, where)
        threshold = _numbers(tree, "threshold", np.float64, internal, where)
        decision = _numbers(tree, "decision_type", np.int64, internal, where)
        left = _numbers(tree, "left_child", np.intp, internal, where)
        right = _numbers(tree, "right_child", np.intp, internal, where)
        internal_value = _numbers(tree, "internal_value", np.float64, internal, where)
        if (decision & _CATEGORICAL).any() or feature.min() < 0:
            raise UnsupportedModel(f"{where}: categorical or malformed splits")
        if feature.max() >= feature_count:
            raise UnsupportedModel(
                f"{where}: a split on feature {feature.max()} of {feature_count}"
            )
        named = np.concatenate([left, right])  # internal node i as i, leaf j as ~j
        if named.min() < -leaves or named.max() >= internal:
            raise UnsupportedModel(f"{where}: a child outside the tree")
    # LightGBM writes leaf j as ~j; a leaf's children are itself
    own = base + internal + np.arange(leaves)
    children = np.empty((internal + leaves, 2), dtype=np.intp)
    for side, child in ((0, right), (1, left)):
        children[:internal, side] = np.where(child >= 0, base + child, base + internal + ~child)
        children[internal:, side] = own
    missing = (decision >> 2) & 3
    no_split = np.zeros(leaves, bool)
    arrays = {
        "feature": np.concatenate([feature, np.zeros(leaves)]).astype(np.intp),
        "threshold": np.concatenate([threshold, np.zeros(leaves)]).astype(np.float64),
        "default_left": np.concatenate([(decision & _DEFAULT_LEFT) > 0, no_split]),
        "missing_zero": np.concatenate([missing == _MISSING_ZERO, no_split]),
        "missing_nan": np.concatenate([missing == _MISSING_NAN, no_split]),
        "children": children.ravel(),
        "value": np.concatenate([internal_value, leaf_value]).astype(np.float64),
        "leaf": np.concatenate([np.full(internal, -1), np.arange(leaves)]).astype(np.intp),
    }
    return arrays, _depth(children, base, internal)


def _depth(children: np.ndarray, base: int, internal: int) -> int:
    """Splits on the longest path from the root (0 for a tree that is one leaf)."""
    deepest, level = 0, [base] if internal else []
    while level:
        deepest += 1
        level = [c for n in level for c in children[n - base] if c - base < internal]
        if deepest > internal:
            raise UnsupportedModel("a tree whose children form a cycle")
    return deepest
