"""LightGBM's dumped trees turned into the flat arrays and per-leaf tables of Fast TreeSHAP v2.

Why tables: LightGBM's `pred_contrib` runs the path-dependent TreeSHAP recursion for every row,
O(leaves × depth²) per tree, and was ~85% of a batch scoring run with exact reasons. Fast
TreeSHAP v2 (Yang 2021) moves the work that does not depend on the row into tables built once
per model, so a row costs O(leaves × depth) per tree: a few comparisons and lookups.

The identity the tables rest on. For one leaf l with value v, let U be the distinct features
on its path (D of them); for feature k, z_k is the product of its splits' cover fractions
(child count / parent count, as LightGBM's TreeSHAP uses) and o_k ∈ {0, 1} says whether the row
satisfies all of k's splits on the path. The path-dependent game is
v(S) = v · Π_{k∈S} o_k · Π_{k∈U∖S} z_k, and with P = {k : o_k = 1} the Shapley value is

    o_k = 1:  φ_k = (1 − z_k) / z_k · H(P ∖ {k})        o_k = 0:  φ_k = −H(P)
    where     H(Q) = v · Σ_{S⊆Q} w(|S|, D) · Π_{j∈U∖S} z_j,   w(s, D) = s! (D−s−1)! / D!

(every term of H(P ∖ {k}) holds the factor z_k, which the division takes back out). H has 2^D
entries per leaf, one per pattern P, computed here by a subset-sum transform. The bias column is
LightGBM's expected value: Σ_leaves leaf_count / root_count · leaf_value, summed over the trees.

Models this does not cover (categorical splits, several trees per iteration, linear trees, a
zero cover, paths with too many distinct features for a table) get `unsupported` set, and
the caller uses LightGBM's own `pred_contrib` for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial
from typing import Any

import numpy as np

# LightGBM's `kZeroThreshold` (the float 1e-35f): values this close to 0 count as zero.
ZERO_THRESHOLD = float(np.float32(1e-35))
MISSING_TYPES = {"None": 0, "Zero": 1, "NaN": 2}
# A leaf whose path has more distinct features than this needs a table of 2^D entries; beyond
# it (and beyond the total below) LightGBM's own recursion is cheaper in memory.
MAX_PATH_FEATURES = 16
MAX_TABLE_ENTRIES = 1 << 24  # 128 MiB of float64 over all leaves


@dataclass
class ShapTables:
    """Every tree of one booster as flat arrays (the numba kernel's input) plus its bias.

    Splits (internal nodes of all trees): `node_feature`, `node_threshold`, `node_default_left`,
    `node_missing`. Positions (every node, parents before children): `pos_parent` (-1 at a
    root), `pos_split` (the parent's split), `pos_left` (this node is its left child),
    `pos_clear` (the bit a row that goes the other way loses), `pos_leaf` (leaf number or -1).
    A leaf's pattern is its parent's minus that bit: the slots (distinct path features, in the
    order they first appear from the root) whose splits the row satisfies. Leaves: their
    slots (`slot_feature`, `slot_coef` = (1 − z)/z, from `leaf_slot_start`) and H tables
    (`tables` from `leaf_table_start`).
    """

    n_features: int
    bias: float
    node_feature: np.ndarray
    node_threshold: np.ndarray
    node_default_left: np.ndarray
    node_missing: np.ndarray
    tree_split_start: np.ndarray
    tree_pos_start: np.ndarray
    pos_parent: np.ndarray
    pos_split: np.ndarray
    pos_left: np.ndarray
    pos_clear: np.ndarray
    pos_leaf: np.ndarray
    leaf_slot_start: np.ndarray
    slot_feature: np.ndarray
    slot_coef: np.ndarray
    leaf_table_start: np.ndarray
    tables: np.ndarray
    unsupported: str | None = None


def _weights(depth: int) -> np.ndarray:
    """w(s, D) = s! (D−s−1)! / D! for s = 0..D−1, and 0 for s = D (that pattern is never read)."""
    weights = [factorial(s) * factorial(depth - s - 1) / factorial(depth) for s in range(depth)]
    return np.array([*weights, 0.0])


def leaf_table(value: float, zero_fractions: np.ndarray) -> np.ndarray:
    """H(Q) for every pattern Q (bit k = slot k) of one leaf, as in the module docstring."""
    depth = len(zero_fractions)
    patterns = np.arange(1 << depth)
    bits = (patterns[:, None] >> np.arange(depth)) & 1
    terms = _weights(depth)[bits.sum(axis=1)] * np.where(bits == 1, 1.0, zero_fractions).prod(1)
    for bit in range(depth):  # subset sums: H(Q) = Σ_{S⊆Q} terms(S)
        blocks = terms.reshape(-1, 2, 1 << bit)
        blocks[:, 1, :] += blocks[:, 0, :]
    return value * terms


_Step = tuple[int, float]  # a path step: the split's feature, the cover fraction taken


def _count(node: dict[str, Any]) -> float:
    return float(node["leaf_count"] if "leaf_index" in node else node["internal_count"])


class _Builder:
    """Collects the arrays tree by tree; `unsupported` names the first thing it cannot table."""

    def __init__(self) -> None:
        self.splits: list[tuple[int, float, bool, int]] = []
        self.positions: list[tuple[int, int, bool, int, int]] = []
        self.tree_split_start, self.tree_pos_start = [0], [0]
        self.leaf_slot_start, self.leaf_table_start = [0], [0]
        self.slots: list[tuple[int, float]] = []
        self.tables: list[np.ndarray] = []
        self.bias = 0.0
        self.unsupported: str | None = None

    def refuse(self, reason: str) -> None:
        self.unsupported = self.unsupported or reason

    def add_tree(self, root: dict[str, Any]) -> None:
        if "split_feature" not in root:  # a single leaf: all bias, no feature moves it
            self.bias += float(root["leaf_value"])
        else:
            leaves: list[tuple[int, float, float]] = []
            self._walk(root, leaves)
            # LightGBM's Tree::ExpectedValue: leaves in index order, count / root count.
            for _, count, value in sorted(leaves):
                self.bias += count / _count(root) * value
        self.tree_split_start.append(len(self.splits))
        self.tree_pos_start.append(len(self.positions))

    def _walk(self, root: dict[str, Any], leaves: list[tuple[int, float, float]]) -> None:
        """Depth first (parents get their position before their children), carrying each
        path's (feature, cover fraction) steps."""
        stack: list[tuple[dict[str, Any], int, int, bool, int, list[_Step]]] = [
            (root, -1, -1, True, 0, [])
        ]
        while stack:
            node, parent, split, left, clear, path = stack.pop()
            position = len(self.positions)
            if "leaf_index" in node:
                if "leaf_coeff" in node:
                    self.refuse("linear trees")
                leaves.append((int(node["leaf_index"]), _count(node), float(node["leaf_value"])))
                leaf = len(self.leaf_slot_start) - 1
                self.positions.append((parent, split, left, clear, leaf))
                self._add_leaf(float(node["leaf_value"]), path)
                continue
            self.positions.append((parent, split, left, clear, -1))
            numerical = node.get("decision_type") == "<="
            if not numerical:  # its threshold is a set of categories ("1||4"), not a number
                self.refuse("a categorical split")
            feature = int(node["split_feature"])
            missing = MISSING_TYPES[node["missing_type"]]
            threshold = float(node["threshold"]) if numerical else np.nan
            self.splits.append((feature, threshold, bool(node["default_left"]), missing))
            slot = list(dict.fromkeys([*(f for f, _ in path), feature])).index(feature)
            for side, goes_left in (("right_child", False), ("left_child", True)):
                child = node[side]
                if _count(node) <= 0 or _count(child) <= 0:
                    self.refuse("a split with an empty side")
                fraction = _count(child) / _count(node) if _count(node) > 0 else 0.0
                step = [*path, (feature, fraction)]
                stack.append((child, position, len(self.splits) - 1, goes_left, 1 << slot, step))

    def _add_leaf(self, value: float, path: list[tuple[int, float]]) -> None:
        features = list(dict.fromkeys(feature for feature, _ in path))
        if len(features) > MAX_PATH_FEATURES:
            self.refuse(
                f"a path with {len(features)} distinct features (tables stop at "
                f"{MAX_PATH_FEATURES})"
            )
        zero = np.ones(len(features))
        for feature, fraction in path:
            zero[features.index(feature)] *= fraction
        with np.errstate(divide="ignore", invalid="ignore"):
            coef = (1.0 - zero) / zero
        self.slots.extend(zip(features, coef.tolist(), strict=True))
        self.leaf_slot_start.append(len(self.slots))
        if self.unsupported is None:
            self.tables.append(leaf_table(value, zero))
        size = len(self.tables[-1]) if self.unsupported is None else 0
        self.leaf_table_start.append(self.leaf_table_start[-1] + size)
        if self.leaf_table_start[-1] > MAX_TABLE_ENTRIES:
            self.refuse(f"tables over {MAX_TABLE_ENTRIES:,} entries")

    def tables_for(self, n_features: int) -> ShapTables:
        splits = list(zip(*self.splits, strict=True)) or [()] * 4
        positions = list(zip(*self.positions, strict=True)) or [()] * 5
        slots = list(zip(*self.slots, strict=True)) or [()] * 2
        usable = self.unsupported is None and self.tables
        return ShapTables(
            n_features=n_features,
            bias=self.bias,
            node_feature=np.array(splits[0], dtype=np.int64),
            node_threshold=np.array(splits[1], dtype=np.float64),
            node_default_left=np.array(splits[2], dtype=np.bool_),
            node_missing=np.array(splits[3], dtype=np.uint8),
            tree_split_start=np.array(self.tree_split_start, dtype=np.int64),
            tree_pos_start=np.array(self.tree_pos_start, dtype=np.int64),
            pos_parent=np.array(positions[0], dtype=np.int64),
            pos_split=np.array(positions[1], dtype=np.int64),
            pos_left=np.array(positions[2], dtype=np.bool_),
            pos_clear=np.array(positions[3], dtype=np.int64),
            pos_leaf=np.array(positions[4], dtype=np.int64),
            leaf_slot_start=np.array(self.leaf_slot_start, dtype=np.int64),
            slot_feature=np.array(slots[0], dtype=np.int64),
            slot_coef=np.array(slots[1], dtype=np.float64),
            leaf_table_start=np.array(self.leaf_table_start, dtype=np.int64),
            tables=np.concatenate(self.tables) if usable else np.zeros(0),
            unsupported=self.unsupported,
        )


def shap_tables(dump: dict[str, Any]) -> ShapTables:
    """The tables of a `Booster.dump_model(num_iteration=...)` (its trees are the ones used)."""
    builder = _Builder()
    if int(dump.get("num_tree_per_iteration", 1)) != 1:
        builder.refuse("several trees per iteration (multiclass)")
    for tree in dump["tree_info"]:
        builder.add_tree(tree["tree_structure"])
    return builder.tables_for(int(dump["max_feature_idx"]) + 1)
