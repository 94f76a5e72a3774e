"""The fitted fraud model as plain arrays, scored without scikit-learn's per-call overhead.

Grain: a :class:`Forest` is compiled once per fitted model (:func:`compile_forest`); its
:meth:`Forest.matrix` turns a feature frame into one float64 row per order, and
:meth:`Forest.log_odds` / :meth:`Forest.probability` / :meth:`Forest.contributions` give one
value (or one row of contributions) per matrix row.

Exact, not approximate: the matrix is the one the booster's own trees read after the
pipeline's two encoders (categories → ordinal codes → the booster's category codes, numbers
and flags as float64 with NaN for missing), the trees are the booster's (its
``TreePredictor`` nodes), their leaves are added in the booster's order from its baseline,
and the calibrator is the same two-parameter sigmoid; so the results equal
``predict_proba`` and ``decision_function`` of the scikit-learn objects bit for bit (tests
check it on real features). What is saved is still the scikit-learn estimator; this is
derived from it when a model is first used.

Why it is faster:

- Categories are mapped with one lookup per value (polars ``replace_strict`` on the
  vocabulary read from the fitted encoders), not by scikit-learn's ``OrdinalEncoder`` over
  Python strings and then a second ``OrdinalEncoder`` inside the booster.
- Large batches go column by column from the frame to the trees rewritten for one compiled
  loop over all trees (:mod:`models.fraud_rank_trees`).
- Small batches (one order and its reasons) never call a tree one by one: each split's
  decision is computed for all nodes at once, and every (row, tree) pair walks down its tree
  together, one numpy step per level. A feature set to its typical value only changes the
  decisions of the splits on that feature (computed once, at compile time), and only trees
  whose path splits on it can end elsewhere: only those are walked again.
"""

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

from models.fraud_rank_trees import RankTrees, build_rank_trees

SMALL_ROWS = 4
"""Up to this many rows (times their variants), the all-trees-at-once numpy walk is used."""
MISSING_CATEGORY = "(none)"
"""What a missing categorical value is called in the model input (its own category)."""


@dataclass(frozen=True)
class Forest:
    """The booster's trees, encoders and calibrator as arrays (see the module docstring)."""

    columns: tuple[str, ...]
    """Feature names in matrix column order (the booster's: categoricals first)."""
    categorical: tuple[bool, ...]
    vocabulary: dict[str, dict[str, float]]
    """Per categorical column: text value → the code the trees read (NaN: unknown)."""
    unknown_code: dict[str, float]
    reference: np.ndarray
    """Each column's typical value (what a reason compares with), in matrix form."""
    baseline: float
    sigmoid_a: float
    sigmoid_b: float
    predictors: tuple[Any, ...]
    """The booster's ``TreePredictor`` objects, in its order."""
    # All trees' nodes in one array (node ids are global); leaves point to themselves.
    roots: np.ndarray
    node_feature: np.ndarray
    node_value: np.ndarray
    children: np.ndarray
    """``children[2 * node + went_left]``: the next node."""
    max_depth: int
    numeric_nodes: np.ndarray
    numeric_threshold: np.ndarray
    numeric_missing_left: np.ndarray
    categorical_nodes: np.ndarray
    categorical_left: np.ndarray
    """Per categorical node, went-left for codes 0..255 and, at 256, for missing/negative."""
    reference_decisions: np.ndarray
    """Each node's decision when its feature has its typical value."""
    split_column: np.ndarray
    """The column each node splits on; ``len(columns)`` for leaves."""
    batch: RankTrees
    """The trees rewritten for large batches (:mod:`models.fraud_rank_trees`)."""

    def matrix(self, features: pl.DataFrame) -> np.ndarray:
        """One C-ordered float64 row per order, columns as :attr:`columns`."""
        if features.height <= SMALL_ROWS:
            return self._matrix_small(features)
        exprs = [
            self._category_expr(name)
            if is_categorical
            else pl.col(name).cast(pl.Float64).fill_null(float("nan"))
            for name, is_categorical in zip(self.columns, self.categorical, strict=True)
        ]
        return features.select(exprs).to_numpy(order="c")

    def _category_expr(self, name: str) -> pl.Expr:
        """A categorical column's codes (Float64; NaN for values the booster never saw)."""
        vocabulary = self.vocabulary[name]
        return (
            pl.col(name)
            .cast(pl.String)
            .fill_null(MISSING_CATEGORY)
            .replace_strict(
                list(vocabulary),
                list(vocabulary.values()),
                default=self.unknown_code[name],
                return_dtype=pl.Float64,
            )
        )

    def frame_log_odds(self, features: pl.DataFrame) -> np.ndarray:
        """:meth:`log_odds` of a feature frame; a large one goes column by column from the
        frame to :attr:`batch`, without a float64 matrix in between."""
        if features.height <= SMALL_ROWS:
            return self.log_odds(self.matrix(features))
        columns, missing = [], []
        for j, name in enumerate(self.columns):
            mask = None
            if self.categorical[j]:
                values = features.select(self._category_expr(name)).to_series()
            else:
                values = features.get_column(name)
                if values.dtype == pl.Boolean:
                    values = values.cast(pl.UInt8)
                elif not (values.dtype.is_float() or values.dtype.is_integer()):
                    values = values.cast(pl.Float64)  # decimals and the like
                if values.dtype.is_integer() and values.null_count():
                    # Integers stay integers (cheap ranks); the nulls are marked apart.
                    mask = values.is_null().to_numpy()
                    values = values.fill_null(0)
            columns.append(values.to_numpy())
            missing.append(mask)
        return self.batch.log_odds(columns, missing)

    def _matrix_small(self, features: pl.DataFrame) -> np.ndarray:
        # A few rows: their Python values are cheaper than building expressions.
        schema = features.schema
        texts = (pl.String, pl.Categorical, pl.Enum)
        odd = [
            pl.col(name).cast(pl.String if categorical else pl.Float64)
            for name, categorical in zip(self.columns, self.categorical, strict=True)
            if not (schema[name] in texts if categorical else schema[name].is_numeric())
            and schema[name] != pl.Boolean
        ]
        if odd:  # other types: read as the pipeline casts them
            features = features.with_columns(odd)
        position = {name: i for i, name in enumerate(features.columns)}
        rows = features.rows()
        out = np.empty((len(rows), len(self.columns)))
        for j, (name, categorical) in enumerate(zip(self.columns, self.categorical, strict=True)):
            k = position[name]
            if categorical:
                vocabulary, unknown = self.vocabulary[name], self.unknown_code[name]
                for i, row in enumerate(rows):
                    value = MISSING_CATEGORY if row[k] is None else row[k]
                    out[i, j] = vocabulary.get(value, unknown)
            else:
                for i, row in enumerate(rows):
                    out[i, j] = np.nan if row[k] is None else float(row[k])
        return out

    def log_odds(self, x: np.ndarray) -> np.ndarray:
        """The trees' raw log-odds per row (the booster's ``decision_function``)."""
        if len(x) <= SMALL_ROWS:
            return self.walk(x).log_odds
        return self.batch.log_odds([x[:, j] for j in range(x.shape[1])])

    def walk(self, x: np.ndarray) -> "Walk":
        """A few rows walked through every tree at once (see :class:`Walk`)."""
        decisions = self._decisions(x)
        n, nodes = decisions.shape
        successor = self.children[self._node_ids2 + decisions]  # [row, node]: next node
        offsets = np.arange(n)[:, None] * nodes
        flat = (successor + offsets).reshape(-1)  # in ids of all rows' nodes
        node = self.roots + offsets
        path = [node]
        for _ in range(self.max_depth):  # leaves point to themselves
            node = flat[node]
            path.append(node)
        local = np.stack(path) - offsets
        leaves = self.node_value[local[-1]]
        return Walk(successor, local, leaves, self._sum(leaves))

    @cached_property
    def _node_ids2(self) -> np.ndarray:
        return 2 * np.arange(len(self.node_feature))

    @cached_property
    def _reference_successor(self) -> np.ndarray:
        """Each node's next node when its feature has its typical value."""
        return self.children[self._node_ids2 + self.reference_decisions]

    def probability(self, log_odds: np.ndarray) -> np.ndarray:
        """The calibrated probability (scikit-learn's sigmoid calibrator, same arithmetic)."""
        from scipy.special import expit

        return expit(-(self.sigmoid_a * log_odds + self.sigmoid_b))

    def contributions(self, x: np.ndarray, log_odds: np.ndarray | None = None) -> np.ndarray:
        """Per row and column: its log-odds minus the log-odds with that column alone at its
        typical value. ``log_odds`` (of ``x``) saves recomputing them."""
        n, width = x.shape
        if n == 0:
            return np.zeros((0, width))
        if n <= SMALL_ROWS:
            return self.walk_contributions(self.walk(x))
        base = self.log_odds(x) if log_odds is None else log_odds
        out = np.empty((n, width))
        chunk = max(1, 65_536 // width)
        for start in range(0, n, chunk):
            rows = x[start : start + chunk]
            variants = np.repeat(rows[None, :, :], width, axis=0)
            for j in range(width):
                variants[j, :, j] = self.reference[j]
            odds = self.log_odds(variants.reshape(-1, width)).reshape(width, len(rows))
            out[start : start + chunk] = base[start : start + chunk, None] - odds.T
        return out

    def _decisions(self, x: np.ndarray) -> np.ndarray:
        """Went-left of every node for every row (leaves: False; they point to
        themselves), exactly as the booster's Cython predictor decides."""
        decisions = np.zeros((len(x), len(self.node_feature)), dtype=bool)
        values = x[:, self.node_feature[self.numeric_nodes]]
        decisions[:, self.numeric_nodes] = np.where(
            np.isnan(values), self.numeric_missing_left, values <= self.numeric_threshold
        )
        codes = x[:, self.node_feature[self.categorical_nodes]]
        missing = np.isnan(codes) | (codes < 0)
        index = np.where(missing, 256, np.nan_to_num(codes)).astype(np.intp)
        rows = np.arange(len(self.categorical_nodes))
        decisions[:, self.categorical_nodes] = self.categorical_left[rows, index]
        return decisions

    def _sum(self, leaves: np.ndarray) -> np.ndarray:
        """Log-odds from leaf values ``[..., tree]``: added in tree order from the baseline,
        as the booster adds them (so the sums are equal bit for bit)."""
        start = np.full((*leaves.shape[:-1], 1), self.baseline)
        return np.cumsum(np.concatenate([start, leaves], axis=-1), axis=-1)[..., -1]

    def walk_contributions(self, walk: "Walk") -> np.ndarray:
        """:meth:`contributions` of walked rows. Setting column ``j`` to its typical value
        changes only the splits on ``j``, so a row's path in a tree changes only from the
        first split on ``j`` along it whose decision differs for the typical value (known
        per node at compile time); only those (row, tree, column) walks go on from there."""
        width = len(self.columns)
        n, nodes = walk.successor.shape
        path = walk.path  # [level, row, tree]
        column = self.split_column[path]
        successor = walk.successor.reshape(-1)
        rows = np.arange(n)[None, :, None] * nodes
        flips = (column < width) & (self._reference_successor[path] != successor[rows + path])
        level, row, tree = np.nonzero(flips)  # level first: the first flip of a pair first
        _, first = np.unique((row * len(self.roots) + tree) * width + column[flips],
                             return_index=True)  # fmt: skip
        row, tree, level = row[first], tree[first], level[first]
        flipped = path[level, row, tree]
        columns = self.split_column[flipped]
        node = self._reference_successor[flipped]
        offsets = row * nodes
        for step in range(self.max_depth):
            if step % 4 == 0 and (self.split_column[node] == width).all():
                break
            node = np.where(
                self.split_column[node] == columns,
                self._reference_successor[node],
                successor[offsets + node],
            )
        leaves = np.repeat(walk.leaves[:, None, :], width + 1, axis=1)
        leaves[row, columns + 1, tree] = self.node_value[node]
        odds = self._sum(leaves)
        return odds[:, :1] - odds[:, 1:]


@dataclass(frozen=True)
class Walk:
    """A few rows walked through every tree at once: each node's next node per row
    ``[row, node]``, the node reached at each level ``[level, row, tree]`` (leaves repeat),
    the leaf values ``[row, tree]`` and the log-odds per row."""

    successor: np.ndarray
    path: np.ndarray
    leaves: np.ndarray
    log_odds: np.ndarray


def _category_codes(pipeline: Any, columns: list[str], categorical: list[str]) -> tuple[
    dict[str, dict[str, float]], dict[str, float]
]:  # fmt: skip
    """Text value → the code the booster's trees read, per categorical column, found by
    passing every known value (and one unknown) through the fitted encoders themselves."""
    encoder = pipeline.named_steps["columns"].named_transformers_["categorical"]
    vocabularies = {
        name: [str(v) for v in values]
        for name, values in zip(categorical, encoder.categories_, strict=True)
    }
    unknown = "\x00unknown"  # never a real value
    height = max(len(v) for v in vocabularies.values()) + 1
    frame = pl.DataFrame(
        {
            name: (vocabularies[name] + [unknown] * height)[:height]
            if name in vocabularies
            else np.zeros(height)
            for name in columns
        }
    )
    rows = np.asarray(pipeline[:-1].transform(frame))
    codes = pipeline[-1]._preprocess_X(rows, reset=False)
    vocabulary: dict[str, dict[str, float]] = {}
    unknown_code: dict[str, float] = {}
    for j, name in enumerate(categorical):
        values = vocabularies[name]
        vocabulary[name] = {v: float(codes[i, j]) for i, v in enumerate(values)}
        unknown_code[name] = float(codes[len(values), j])
    return vocabulary, unknown_code


def compile_forest(
    estimator: Any, features: tuple[str, ...], kinds: dict[str, str], reference: dict[str, Any]
) -> Forest:  # fmt: skip
    """Compile a fitted ``CalibratedClassifierCV`` (one sigmoid calibrator around a frozen
    ColumnTransformer + HistGradientBoostingClassifier pipeline) into a :class:`Forest`."""
    (calibrated,) = estimator.calibrated_classifiers_
    (calibrator,) = calibrated.calibrators
    pipeline = calibrated.estimator
    if hasattr(pipeline, "estimator"):  # FrozenEstimator
        pipeline = pipeline.estimator
    booster = pipeline[-1]
    categorical = [n for n in features if kinds[n] == "categorical"]
    columns = categorical + [n for n in features if kinds[n] != "categorical"]
    if list(pipeline.named_steps["columns"].get_feature_names_out()) != columns:
        raise ValueError("the pipeline's columns are not in the expected order")
    if booster.n_trees_per_iteration_ != 1:
        raise ValueError("only a binary booster can be compiled")
    is_categorical = booster.is_categorical_  # None without categorical features
    if list(is_categorical if is_categorical is not None else [False] * len(columns)) != [
        n in categorical for n in columns
    ]:
        raise ValueError("the booster's categorical columns are not the expected ones")
    vocabulary, unknown_code = (
        _category_codes(pipeline, list(features), categorical) if categorical else ({}, {})
    )
    reference_row = np.array(
        [
            vocabulary[n].get(str(reference[n]), unknown_code[n])
            if n in vocabulary
            else float(reference[n])
            for n in columns
        ]
    )

    predictors = tuple(p for (p,) in booster._predictors)
    if categorical:
        known_cat_bitsets, f_idx_map = booster._bin_mapper.make_known_categories_bitsets()
    else:  # no categorical splits to read them
        known_cat_bitsets, f_idx_map = np.zeros((0, 8), np.uint32), np.zeros(0, np.uint32)
    feature_parts, value_parts, child_parts, leaf_parts, roots = [], [], [], [], []
    numeric_nodes, numeric_threshold, numeric_missing_left = [], [], []
    categorical_nodes, categorical_left = [], []
    tables: list[dict[int, np.ndarray]] = []  # per tree: node → went-left per code
    offset, max_depth = 0, 0
    codes = np.arange(256)
    for predictor in predictors:
        nodes = predictor.nodes
        count = len(nodes)
        ids = offset + np.arange(count)
        leaf = nodes["is_leaf"].astype(bool)
        left = np.where(leaf, ids, offset + nodes["left"].astype(np.int64))
        right = np.where(leaf, ids, offset + nodes["right"].astype(np.int64))
        child_parts.append(np.stack([right, left], axis=1).reshape(-1))
        feature_parts.append(nodes["feature_idx"].astype(np.intp))
        leaf_parts.append(leaf)
        value_parts.append(nodes["value"].astype(np.float64))
        roots.append(offset)
        max_depth = max(max_depth, int(nodes["depth"].max()))
        split_categorical = ~leaf & nodes["is_categorical"].astype(bool)
        split_numeric = ~leaf & ~split_categorical
        numeric_nodes.append(ids[split_numeric])
        numeric_threshold.append(nodes["num_threshold"][split_numeric])
        numeric_missing_left.append(nodes["missing_go_to_left"][split_numeric].astype(bool))
        tree_tables = {}
        for k in np.flatnonzero(split_categorical):
            node = nodes[k]
            missing_left = bool(node["missing_go_to_left"])
            left_set = predictor.raw_left_cat_bitsets[node["bitset_idx"]]
            known = known_cat_bitsets[f_idx_map[node["feature_idx"]]]
            in_left = (left_set[codes // 32] >> (codes % 32)) & 1
            in_known = (known[codes // 32] >> (codes % 32)) & 1
            table = np.where(in_left == 1, True, np.where(in_known == 1, False, missing_left))
            categorical_nodes.append(offset + k)
            categorical_left.append(np.append(table, missing_left))
            tree_tables[int(k)] = table
        tables.append(tree_tables)
        offset += count

    node_feature = np.concatenate(feature_parts)
    is_leaf = np.concatenate(leaf_parts)
    numeric = np.concatenate(numeric_nodes).astype(np.intp)
    thresholds = np.concatenate(numeric_threshold).astype(np.float64)
    category_counts = {
        j: int(max((c for c in vocabulary[name].values() if not np.isnan(c)), default=0)) + 1
        for j, name in enumerate(columns)
        if name in vocabulary
    }
    batch = build_rank_trees(
        predictors,
        tables,
        tuple(n in vocabulary for n in columns),
        category_counts,
        float(np.asarray(booster._baseline_prediction).reshape(-1)[0]),
    )
    forest = Forest(
        columns=tuple(columns),
        categorical=tuple(n in vocabulary for n in columns),
        vocabulary=vocabulary,
        unknown_code=unknown_code,
        reference=reference_row,
        baseline=float(np.asarray(booster._baseline_prediction).reshape(-1)[0]),
        sigmoid_a=float(calibrator.a_),
        sigmoid_b=float(calibrator.b_),
        predictors=predictors,
        roots=np.array(roots, dtype=np.intp),
        node_feature=node_feature,
        node_value=np.concatenate(value_parts),
        children=np.concatenate(child_parts).astype(np.intp),
        max_depth=max_depth,
        numeric_nodes=numeric,
        numeric_threshold=thresholds,
        numeric_missing_left=np.concatenate(numeric_missing_left),
        categorical_nodes=np.array(categorical_nodes, dtype=np.intp),
        categorical_left=np.array(categorical_left, dtype=bool).reshape(-1, 257),
        reference_decisions=np.zeros(len(node_feature), dtype=bool),
        split_column=np.where(is_leaf, len(columns), node_feature),
        batch=batch,
    )
    # Filled in place: the decisions are computed by the forest's own method.
    forest.reference_decisions[:] = forest._decisions(reference_row[None, :])[0]
    return forest
