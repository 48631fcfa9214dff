"""Operators of domain ai.onnx.ml with numeric tensors: Binarizer, ArrayFeatureExtractor,
LabelEncoder (numeric keys and values) and TreeEnsemble (ml opset 5).

OpenVINO IR holds no strings, so string keys, values or inputs cannot be converted. The
registry keys carry the domain ("ai.onnx.ml.OpName"); each handler is registered from version 1
and tells the domain's versions apart by their attributes, since the frontend looks handlers up
by the default-domain opset.
"""
from __future__ import annotations

import numpy as np

from ....element_types import to_numpy
from ....graph import Output
from ...builders.elementwise import binary, select
from ..context import OnnxNodeContext
from . import registry
from ._util import i64, known_rank, reshape

DOMAIN = "ai.onnx.ml"


@registry.register(f"{DOMAIN}.Binarizer")
def binarizer(ctx: OnnxNodeContext) -> Output:
    """1 where X > threshold, else 0, in X's type."""
    data = ctx.input(0)
    above = binary(ctx.graph, "Greater", data, ctx.scalar(float(ctx.attr("threshold", 0.0)), data),
                   name=f"{ctx.name}/above")
    return select(ctx.graph, above, ctx.scalar(1, data), ctx.scalar(0, data), name=ctx.name)


@registry.register(f"{DOMAIN}.ArrayFeatureExtractor")
def array_feature_extractor(ctx: OnnxNodeContext) -> Output:
    """The columns (last axis) of X the indices name, the indices flattened: [..., len(indices)];
    a 1-D X gives one row [1, len(indices)], as onnxruntime does."""
    data, indices = ctx.input(0), ctx.input(1)
    rank = known_rank(ctx, data)
    if indices.rank != 1:
        indices = reshape(ctx, indices, [-1], "indices")
    if rank == 1:
        data = reshape(ctx, data, [1, -1], "row")
        rank = 2
    return ctx.op("Gather", data, indices, ctx.const(np.array(rank - 1, np.int64)), batch_dims=0)


# -- LabelEncoder -----------------------------------------------------------------------------
LABEL_DEFAULTS = {"floats": ("default_float", -0.0, np.float32),
                  "int64s": ("default_int64", -1, np.int64)}


def _label_table(ctx: OnnxNodeContext, side: str) -> np.ndarray:
    """The keys or values (`side`) as a numpy array, from `<side>_tensor` (opset 4) or the
    typed lists `<side>_floats` / `<side>_int64s`."""
    if ctx.attr(f"{side}_strings") is not None or ctx.attr("classes_strings") is not None:
        raise ctx.error(f"its {side} are strings, which OpenVINO IR cannot hold")
    tensor = ctx.attr(f"{side}_tensor")
    if tensor is not None:
        if tensor.dtype.kind in "OUS":
            raise ctx.error(f"its {side} are strings, which OpenVINO IR cannot hold")
        return np.asarray(tensor).reshape(-1)
    for kind, (_, _, dtype) in LABEL_DEFAULTS.items():
        listed = ctx.attr(f"{side}_{kind}")
        if listed is not None:
            return np.asarray(listed, dtype=dtype)
    raise ctx.error(f"has no {side} (none of {side}_tensor, {side}_floats, {side}_int64s)")


def _label_default(ctx: OnnxNodeContext, values: np.ndarray) -> np.ndarray:
    """The value of keys not in the table: default_tensor, or the default of the values' type."""
    tensor = ctx.attr("default_tensor")
    if tensor is not None:
        return np.asarray(tensor).reshape(()).astype(values.dtype)
    kind = "floats" if values.dtype == np.float32 else "int64s"
    attr, fallback, dtype = LABEL_DEFAULTS[kind]
    return np.asarray(ctx.attr(attr, fallback), dtype=dtype)


@registry.register(f"{DOMAIN}.LabelEncoder")
def label_encoder(ctx: OnnxNodeContext) -> Output:
    """Each element of X mapped to the value of its key, or the default when it has none:
    X compared with every key ([..., K] booleans), the matching value selected and summed
    over the keys (at most one matches), the default where none matched."""
    data = ctx.input(0)
    keys, values = _label_table(ctx, "keys"), _label_table(ctx, "values")
    if keys.size != values.size:
        raise ctx.error(f"has {keys.size} keys but {values.size} values")
    g, name = ctx.graph, ctx.name
    column = ctx.helper("Unsqueeze", data, i64(ctx, [-1]), suffix="column")
    key_const = g.const(keys.astype(_numpy_of(ctx, data)), name=f"{name}/keys")
    matches = binary(g, "Equal", column, key_const, name=f"{name}/matches")
    value_const = g.const(values, name=f"{name}/values")
    zero = g.const(np.zeros((), values.dtype), name=f"{name}/zero")
    picked = select(g, matches, value_const, zero, name=f"{name}/picked")
    last = i64(ctx, [-1])
    mapped = ctx.helper("ReduceSum", picked, last, suffix="mapped", keep_dims=False)
    hits = ctx.helper("Convert", matches, suffix="hits_i32", destination_type="i32")
    found = binary(g, "Greater", ctx.helper("ReduceSum", hits, last, suffix="hits",
                                            keep_dims=False),
                   g.const(np.zeros((), np.int32), name=f"{name}/no_hit"), name=f"{name}/found")
    default = g.const(_label_default(ctx, values), name=f"{name}/default")
    return select(g, found, mapped, default, name=name)


def _numpy_of(ctx: OnnxNodeContext, data: Output) -> np.dtype:
    """The numpy dtype of `data`, which the keys take to be compared with it."""
    if data.element_type is None:
        raise ctx.error("the element type of its input is unknown")
    return np.dtype(to_numpy(data.element_type))


# -- TreeEnsemble -----------------------------------------------------------------------------
# nodes_modes: how a decision node compares its feature with its split (true -> true branch).
TREE_MODES = {0: "LessEqual", 1: "Less", 2: "GreaterEqual", 3: "Greater", 4: "Equal",
              5: "NotEqual", 6: "Member"}
AGGREGATE_SUM, AGGREGATE_AVERAGE = 1, 0


def _tree_paths(ctx: OnnxNodeContext) -> list[tuple[int, list[tuple[int, bool]]]]:
    """Every leaf of every tree with its path: [(leaf index, [(decision node, branch)])]; a
    degenerate tree (its root a leaf) gives a leaf with an empty path."""
    true_ids, false_ids = ctx.ints("nodes_truenodeids"), ctx.ints("nodes_falsenodeids")
    true_leaf, false_leaf = ctx.ints("nodes_trueleafs"), ctx.ints("nodes_falseleafs")
    paths = []
    for root in ctx.ints("tree_roots"):
        if true_leaf[root] and false_leaf[root] and true_ids[root] == false_ids[root]:
            paths.append((true_ids[root], []))
            continue
        stack = [(root, [])]
        while stack:
            node, path = stack.pop()
            if len(path) > len(true_ids):
                raise ctx.error("its trees have a cycle")
            for branch, ids, leafs in ((True, true_ids, true_leaf), (False, false_ids, false_leaf)):
                step = path + [(node, branch)]
                if leafs[node]:
                    paths.append((ids[node], step))
                else:
                    stack.append((ids[node], step))
    return paths


def _member_sets(ctx: OnnxNodeContext, modes: np.ndarray) -> dict[int, list[float]]:
    """The members of each set-membership node: membership_values lists them node after node,
    each set ended by a NaN."""
    members = ctx.attr("membership_values")
    flat = [] if members is None else [float(v) for v in np.ravel(members)]
    sets, current = {}, []
    owners = iter(int(j) for j in np.flatnonzero(modes == 6))
    for value in flat:
        if np.isnan(value):
            owner = next(owners, None)
            if owner is None:
                break
            sets[owner], current = current, []
        else:
            current.append(value)
    missing = [int(j) for j in np.flatnonzero(modes == 6) if int(j) not in sets]
    if missing:
        raise ctx.error(f"membership_values gives no set for the set-membership node(s) {missing}")
    return sets


def _member_conditions(ctx: OnnxNodeContext, data: Output, used: list[int],
                       sets: dict[int, list[float]], features: list[int]) -> Output:
    """[N, J]: whether the feature of each used node is in its set (false for other nodes):
    every (node, member) pair compared at once, the matches counted per node by a MatMul."""
    dtype = _numpy_of(ctx, data)
    pairs = [(column, value) for column, j in enumerate(used) for value in sets.get(j, [])]
    owners = np.zeros((len(pairs), len(used)), dtype)
    for row, (column, _) in enumerate(pairs):
        owners[row, column] = 1
    g, name = ctx.graph, ctx.name
    member_features = i64(ctx, [features[used[column]] for column, _ in pairs])
    picked = ctx.helper("Gather", data, member_features, ctx.const(np.array(1, np.int64)),
                        suffix="member_features", batch_dims=0)
    values = g.const(np.array([v for _, v in pairs], dtype), name=f"{name}/members")
    equal = binary(g, "Equal", picked, values, name=f"{name}/member_equal")
    counts = ctx.helper("MatMul", ctx.helper("Convert", equal, suffix="member_hits",
                                             destination_type=data.element_type),
                        g.const(owners, name=f"{name}/member_owners"), suffix="member_counts",
                        transpose_a=False, transpose_b=False)
    return binary(g, "Greater", counts, ctx.scalar(0, data), name=f"{name}/is_member")


def _decisions(ctx: OnnxNodeContext, data: Output, used: list[int]) -> Output:
    """[N, J] booleans: the outcome of each used decision node for each row of X."""
    modes = np.ravel(ctx.attr("nodes_modes")).astype(np.int64)
    features = ctx.ints("nodes_featureids")
    dtype = _numpy_of(ctx, data)
    unknown = sorted({int(m) for m in modes[used]} - set(TREE_MODES))
    if unknown:
        raise ctx.error(f"nodes_modes {unknown} are not modes of TreeEnsemble")
    g, name = ctx.graph, ctx.name
    columns = ctx.helper("Gather", data, i64(ctx, [features[j] for j in used]),
                         ctx.const(np.array(1, np.int64)), suffix="features", batch_dims=0)
    splits = g.const(np.ravel(ctx.attr("nodes_splits")).astype(dtype)[used], name=f"{name}/splits")
    decided = None
    for mode in sorted({int(m) for m in modes[used]}):
        if TREE_MODES[mode] == "Member":
            outcome = _member_conditions(ctx, data, used, _member_sets(ctx, modes), features)
        elif TREE_MODES[mode] == "NotEqual":
            outcome = ctx.helper("LogicalNot", binary(g, "Equal", columns, splits,
                                                      name=f"{name}/equal"), suffix="not_equal")
        else:
            outcome = binary(g, TREE_MODES[mode], columns, splits, name=f"{name}/{TREE_MODES[mode]}")
        if decided is None:
            decided = outcome
        else:
            mask = g.const(modes[used] == mode, name=f"{name}/mode_{mode}")
            decided = select(g, mask, outcome, decided, name=f"{name}/decided_{mode}")
    # A missing (NaN) feature goes the true way only for NEQ or when the node tracks missing
    # values true: said explicitly, as the CPU plugin's comparisons need not be false on NaN.
    tracks = ctx.ints("nodes_missing_value_tracks_true") or [0] * len(modes)
    nan_true = np.array([bool(tracks[j]) or TREE_MODES[int(modes[j])] == "NotEqual" for j in used])
    missing = ctx.helper("IsNaN", columns, suffix="missing")
    return select(g, missing, g.const(nan_true, name=f"{name}/missing_true"), decided,
                  name=f"{name}/decided")


@registry.register(f"{DOMAIN}.TreeEnsemble")
def tree_ensemble(ctx: OnnxNodeContext) -> Output:
    """Every tree evaluated at once for rows X [N, F]: all decisions [N, J]; a leaf is reached
    when every decision on its path went its way, counted by a MatMul with a [J, L] matrix of
    +1 (true branch) and -1 (false branch, plus 1 per such step); the reached leaves [N, L]
    times their weights per target [L, n_targets] sum (or average) the trees' outputs."""
    data = ctx.input(0)
    if known_rank(ctx, data) != 2:
        raise ctx.error(f"X must be 2-D [N, features], not of rank {data.rank}")
    aggregate = int(ctx.attr("aggregate_function", AGGREGATE_SUM))
    if aggregate not in (AGGREGATE_SUM, AGGREGATE_AVERAGE):
        raise ctx.error(f"aggregate_function {aggregate} (MIN or MAX) is not supported; only "
                        f"SUM (1) and AVERAGE (0) are")
    if int(ctx.attr("post_transform", 0)) != 0:
        raise ctx.error(f"post_transform {ctx.attr('post_transform')} is not supported; only "
                        f"NONE (0) is")
    dtype = _numpy_of(ctx, data)
    paths = _tree_paths(ctx)
    used = sorted({node for _, path in paths for node, _ in path})
    if not used:
        raise ctx.error("has no decision node (every tree is a single leaf)")
    column = {node: i for i, node in enumerate(used)}
    steps = np.zeros((len(used), len(paths)), dtype)
    offset = np.zeros(len(paths), dtype)
    for leaf, (_, path) in enumerate(paths):
        for node, branch in path:
            steps[column[node], leaf] += 1 if branch else -1
            offset[leaf] += 0 if branch else 1
    lengths = np.array([len(path) for _, path in paths], dtype)
    n_targets = int(ctx.attr("n_targets"))
    weights = np.ravel(ctx.attr("leaf_weights")).astype(dtype)
    targets = ctx.ints("leaf_targetids")
    leaf_table = np.zeros((len(paths), n_targets), dtype)
    share = 1 / len(ctx.ints("tree_roots")) if aggregate == AGGREGATE_AVERAGE else 1
    for row, (leaf, _) in enumerate(paths):
        leaf_table[row, targets[leaf]] += weights[leaf] * share
    g, name = ctx.graph, ctx.name
    decisions = ctx.helper("Convert", _decisions(ctx, data, used), suffix="decisions",
                           destination_type=data.element_type)
    counted = ctx.helper("MatMul", decisions, g.const(steps, name=f"{name}/steps"),
                         suffix="steps_taken", transpose_a=False, transpose_b=False)
    taken = binary(g, "Add", counted, g.const(offset, name=f"{name}/offset"), name=f"{name}/taken")
    reached = binary(g, "Equal", taken, g.const(lengths, name=f"{name}/lengths"),
                     name=f"{name}/reached")
    reached = ctx.helper("Convert", reached, suffix="reached_leaves",
                         destination_type=data.element_type)
    return ctx.op("MatMul", reached, g.const(leaf_table, name=f"{name}/leaf_weights"),
                  transpose_a=False, transpose_b=False)
