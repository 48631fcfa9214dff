"""Translating a GraphDef on demand, with TensorFlow control flow whose course is known at
conversion time unrolled.

A TF1 while loop (and a TF2 loop lowered by freezing, as Keras RNNs are) is a frame of nodes:

    Before (one frame, x a loop variable, n the iterations):
        x0 -> Enter -> Merge <- NextIteration <- body <- Switch:1
                       Merge -> cond -> LoopCond -> Switch(Merge, LoopCond) -> Exit (Switch:0)
    After:
        x0 -> body -> body -> ... (n times) -> what read the Exit

The loop's condition is computed from constants each time round (`constant_value`), and the
body is translated once per iteration into a scope of its own, so each iteration gets its own
OpenVINO nodes.

A TF2 `While` (cond and body functions, as SavedModels keep them) is unrolled the same way when
its course is known. When a loop's condition depends on the model's inputs (a Keras RNN or a
`dynamic_rnn` over a dynamic time axis), the loop becomes one OpenVINO Loop (opset5, see
`LoopBuilder`), whether a TF2 While (`WhileLoop`: its body and cond functions) or a TF1 frame
(`FrameLoop`: its Merges and the Enters every iteration reads unchanged are the loop
variables, the subgraph from the Switches to the NextIterations the body, the LoopCond's input
the condition): the body is translated once into a body Graph, the condition after it gives
the execution condition, loop variables the body changes are carried by back edges, the
others are loop-invariant inputs (constants are copied into the body). Tensor lists (TF2) and
TensorArrays (TF1) are what RNN loops read and write: a list made from a tensor
(`TensorListFromTensor`, a TensorArray `unstack`ed by `TensorArrayScatterV3`) is read with a
Gather by the index the body computes; a list of run-time length reserved before the loop
(`TensorListReserve`, `TensorArrayV3`) and written at the iteration counter becomes a
concatenated Loop output, zero-padded to the length it was given.
A `Switch` outside a loop (TF1's `tf.cond`) with a constant predicate leaves its untaken
output DEAD; everything computed from a dead tensor is dead, and `Merge` takes the live one.

`Translator.run(refs, scope)` translates what `refs` need, inputs before consumers, into
`scope`; the frontend's `translate` runs it on the graph's outputs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ...errors import NodeRef, UserInputError
from ...graph import Graph, Output
from ..common import constant_value
from .graph_def import input_node_name, post_order, split_tensor_name

MAX_ITERATIONS = 10_000  # a loop running longer is refused rather than unrolled
LOOP_OPS = frozenset({"Enter", "Exit", "NextIteration", "LoopCond", "RefEnter", "RefExit",
                      "RefNextIteration"})
# TF2 control flow: the loop's cond/body and the branches are functions of the graph's library.
FUNCTIONAL_OPS = frozenset({"While", "StatelessWhile", "If", "StatelessIf"})


class _Dead:
    """The value of an untaken branch (every output of a node that reads one)."""

    def __repr__(self) -> str:
        return "DEAD"

    def __getitem__(self, index):
        return self


DEAD = _Dead()


class Scope:
    """Translated nodes by name (node name -> its outputs), falling back to an outer scope:
    an iteration of a loop body sees what was translated outside the loop."""

    def __init__(self, parent: "Scope | None" = None):
        self.parent = parent
        self.values: dict[str, object] = {}

    def find(self, name: str):
        scope = self
        while scope is not None:
            if name in scope.values:
                return scope.values[name]
            scope = scope.parent
        return None

    def __contains__(self, name: str) -> bool:
        return self.find(name) is not None

    def set(self, name: str, produced) -> None:
        self.values[name] = produced

    def tensor(self, ref: str):
        """The value `ref` (`node`, `node:1`) names: an Output, a frontend value such as a
        tensor list, or DEAD."""
        name, port = split_tensor_name(ref)
        produced = self.find(name)
        if produced is DEAD:
            return DEAD
        if produced is None or port >= len(produced) or produced[port] is None:
            raise UserInputError(f"tensor {ref!r} is read, but node {name!r} does not produce "
                                 f"it in this converter")
        return produced[port]


@dataclass
class LoopFrame:
    """The nodes that make one TF1 while loop, by role."""

    name: str
    enters: list = field(default_factory=list)
    merges: list = field(default_factory=list)          # one per loop variable
    initial: dict = field(default_factory=dict)         # merge name -> its Enter's name
    next_iteration: dict = field(default_factory=dict)  # merge name -> NextIteration node
    switch: dict = field(default_factory=dict)          # merge name -> Switch node
    exits: list = field(default_factory=list)           # (Exit node, merge name)
    loop_cond: object = None

    def outer_inputs(self) -> list[str]:
        """What the loop reads from outside: the inputs of its Enters."""
        return [ref for enter in self.enters for ref in enter.input if not ref.startswith("^")]


def find_frames(nodes: dict) -> dict[str, LoopFrame]:
    """Every while loop of the graph, keyed by the name of each of its Exit nodes."""
    frames: dict[str, LoopFrame] = {}
    for node in nodes.values():
        if node.op in ("Enter", "RefEnter"):
            name = node.attr["frame_name"].s.decode("utf-8", errors="replace")
            frames.setdefault(name, LoopFrame(name)).enters.append(node)
    enter_frame = {enter.name: frame for frame in frames.values() for enter in frame.enters}
    merge_frame: dict[str, LoopFrame] = {}
    for node in nodes.values():
        if node.op not in ("Merge", "RefMerge"):
            continue
        sources = [nodes.get(input_node_name(ref)) for ref in node.input if not ref.startswith("^")]
        enter = next((s for s in sources if s is not None and s.name in enter_frame), None)
        following = next((s for s in sources if s is not None
                          and s.op in ("NextIteration", "RefNextIteration")), None)
        if enter is None or following is None:
            continue  # a tf.cond's Merge
        frame = enter_frame[enter.name]
        frame.merges.append(node)
        frame.initial[node.name] = enter.name
        frame.next_iteration[node.name] = following
        merge_frame[node.name] = frame
    switch_merge: dict[str, str] = {}
    for node in nodes.values():
        if node.op in ("Switch", "RefSwitch") and node.input \
                and input_node_name(node.input[0]) in merge_frame:
            merge = input_node_name(node.input[0])
            frame = merge_frame[merge]
            frame.switch[merge] = node
            frame.loop_cond = nodes.get(input_node_name(node.input[1]))
            switch_merge[node.name] = merge
    by_exit: dict[str, LoopFrame] = {}
    for node in nodes.values():
        if node.op in ("Exit", "RefExit") and node.input:
            merge = switch_merge.get(input_node_name(node.input[0]))
            if merge is not None:
                merge_frame[merge].exits.append((node, merge))
                by_exit[node.name] = merge_frame[merge]
    return by_exit


TranslateNode = Callable[[object, list, str], object]


class Translator:
    """Translates GraphDef nodes on demand into scopes, unrolling while loops.

    `translate_node(node_def, inputs, name)` translates one node (its handler) and returns its
    outputs; `leaves` are nodes whose inputs are not read (model inputs, `--input` cuts)."""

    def __init__(self, nodes: dict, translate_node: TranslateNode, leaves: frozenset = frozenset(),
                 library: dict | None = None, prefix: str = "", memo: dict | None = None,
                 graph: Graph | None = None):
        self.nodes = nodes
        self.graph = graph  # where an OpenVINO Loop goes (None: While loops only unroll)
        self.translate_node = translate_node
        self.leaves = leaves
        self.library = library or {}
        self.prefix = prefix  # names what a function body makes after the op calling it
        self.frames = find_frames(nodes)
        self.memo: dict = {} if memo is None else memo  # constant_value's, shared
        self._suffix = ""
        self._bodies: dict = {}

    def run(self, refs: list[str], scope: Scope) -> list:
        for node in self._order([input_node_name(ref) for ref in refs], scope):
            self._translate(node, scope)
        return [scope.tensor(ref) for ref in refs]

    # -- order ------------------------------------------------------------------------------
    def _dependencies(self, node) -> list[str]:
        if node.name in self.leaves:
            return []
        frame = self.frames.get(node.name)
        refs = frame.outer_inputs() if frame is not None else node.input
        return [ref for ref in refs if not ref.startswith("^")]

    def _order(self, roots: list[str], scope: Scope) -> list:
        """The nodes `roots` need that `scope` lacks, inputs before consumers. A loop's Exit
        depends on what the loop reads from outside, not on its body."""
        def sources(name: str) -> list[str] | None:
            if name in scope:
                return None
            node = self.nodes.get(name)
            if node is None:
                raise UserInputError(f"a node reads {name!r}, which is not in the graph")
            return [input_node_name(ref) for ref in self._dependencies(node)]

        def refuse(name: str) -> None:
            raise UserInputError(f"node {name!r} depends on itself outside a while loop "
                                 f"this converter recognizes")
        return [self.nodes[name] for name in post_order(roots, sources, refuse)]

    # -- translation ------------------------------------------------------------------------
    def _translate(self, node, scope: Scope) -> None:
        if node.name in scope.values:  # an Exit set by its loop's unrolling
            return
        frame = self.frames.get(node.name)
        if frame is not None:
            self._unroll(frame, scope)
            return
        if node.name in self.leaves:
            inputs = []
        else:
            inputs = [scope.tensor(ref) for ref in node.input if not ref.startswith("^")]
        if node.op not in ("Merge", "RefMerge") and any(value is DEAD for value in inputs):
            scope.set(node.name, DEAD)
            return
        if node.op in LOOP_OPS:
            raise UserInputError(f"{node.op} node {node.name!r} is part of a while loop whose "
                                 f"structure this converter does not recognize")
        list_value = run_time_list_op(node, inputs, self.memo)
        if list_value is not None:
            produced = list_value
        elif node.op in FUNCTIONAL_OPS:
            produced = self._functional(node, inputs)
        else:
            produced = self.translate_node(node, inputs, self.prefix + node.name + self._suffix)
        many = isinstance(produced, (list, tuple)) and not isinstance(produced, Output)
        scope.set(node.name, list(produced) if many else [produced])

    def _unroll(self, frame: LoopFrame, scope: Scope) -> None:
        """Run the loop's condition on the current values; while it holds, translate the body
        once more on them. The Exits then carry the last values. A condition only known at
        run time makes the frame one OpenVINO Loop instead (what was unrolled is unused)."""
        invariant = {enter.name: [scope.tensor(enter.input[0])] for enter in frame.enters}
        state = {merge.name: invariant[frame.initial[merge.name]][0] for merge in frame.merges}
        outer_suffix = self._suffix
        try:
            for iteration in range(MAX_ITERATIONS + 1):
                local = Scope(scope)
                local.values.update(invariant)
                for merge in frame.merges:
                    local.set(merge.name, [state[merge.name], None])
                self._suffix = f"{outer_suffix}/iteration_{iteration}"
                held = self._holds(frame, local)
                if not held:  # False: the loop is done; None: only the run time knows
                    break
                if iteration == MAX_ITERATIONS:
                    raise UserInputError(f"the while loop {frame.name!r} runs more than "
                                         f"{MAX_ITERATIONS} times: too many to unroll")
                for merge in frame.merges:
                    local.set(frame.switch[merge.name].name, [DEAD, state[merge.name]])
                merges = [m.name for m in frame.merges]
                refs = [frame.next_iteration[m].input[0] for m in merges]
                state = dict(zip(merges, self.run(refs, local)))
        finally:
            self._suffix = outer_suffix
        if held is None:
            state = self._frame_loop(frame, scope)
        for exit_node, merge in frame.exits:
            scope.set(exit_node.name, [state[merge]])

    def _holds(self, frame: LoopFrame, local: Scope) -> bool | None:
        """Whether the loop runs once more, or None when only the run time knows."""
        if frame.loop_cond is None:
            raise UserInputError(f"the while loop {frame.name!r} has no LoopCond")
        condition = self.run([frame.loop_cond.input[0]], local)[0]
        value = None if condition is DEAD else constant_value(condition, self.memo)
        return None if value is None else bool(value.reshape(-1)[0])

    def _frame_loop(self, frame: LoopFrame, scope: Scope) -> dict:
        """A frame whose trip count depends on the model's inputs, as one OpenVINO Loop:
        the value each Merge has after it (merge name -> value)."""
        loop = FrameLoop(self, frame, scope)
        if self.graph is None:
            raise UserInputError(
                f"the while loop {frame.name!r} runs a number of times that depends on the "
                f"model's inputs, and this translation can only unroll loops: give static "
                f"input shapes (--input_shape)", node=loop.where)
        produced = LoopBuilder(self, loop).build(loop.initial_values())
        return {merge.name: value for merge, value in zip(frame.merges, produced)}

    # -- TF2 functional control flow ------------------------------------------------------------
    def _functional(self, node, inputs: list) -> list:
        """A While unrolled (its cond function decides each time round, its body function
        makes the next values), or the branch of an If its constant predicate takes."""
        where = NodeRef(node.op, node.name)
        if node.op in ("If", "StatelessIf"):
            predicate = self._constant(inputs[0])
            if predicate is None:
                raise UserInputError("its predicate depends on the model's inputs: an If is "
                                     "converted only when its branch is known at conversion "
                                     "time", node=where)
            branch = "then_branch" if bool(predicate.reshape(-1)[0]) else "else_branch"
            return self._call(node, branch, inputs[1:], "")
        values = list(inputs)
        for iteration in range(MAX_ITERATIONS + 1):
            suffix = f"/iteration_{iteration}"
            condition = self._call(node, "cond", values, suffix)[0]
            held = self._constant(condition)
            if held is None:  # run-time trip count: what was unrolled so far is left unused
                return LoopBuilder(self, WhileLoop(self, node)).build(inputs)
            if not bool(held.reshape(-1)[0]):
                return values
            if iteration == MAX_ITERATIONS:
                raise UserInputError(f"the while loop runs more than {MAX_ITERATIONS} times: "
                                     f"too many to unroll", node=where)
            values = self._call(node, "body", values, suffix)
        return values

    def _constant(self, value):
        return constant_value(value, self.memo) if isinstance(value, Output) else None

    def _call(self, node, attr: str, args: list, suffix: str) -> list:
        """The function `node.attr[attr]` names, translated on `args`: its outputs."""
        name = node.attr[attr].func.name
        if name not in self.library:
            raise UserInputError(f"{node.op} node {node.name!r} calls function {name!r}, which "
                                 f"is not in the graph's library")
        body = self._body(name)
        translator = Translator(body["nodes"], self.translate_node, frozenset(body["inputs"]),
                                self.library, f"{self.prefix}{node.name}/", self.memo,
                                self.graph)
        translator._suffix = self._suffix + suffix
        translator._bodies = self._bodies  # bodies are read once per translation
        scope = Scope()
        if len(args) != len(body["inputs"]):
            raise UserInputError(f"{node.op} node {node.name!r} passes {len(args)} value(s) to "
                                 f"{name!r}, which takes {len(body['inputs'])}")
        for argument, value in zip(body["inputs"], args):
            scope.set(argument, [value])
        return translator.run(body["outputs"], scope)

    def _body(self, name: str) -> dict:
        """A library function's nodes (calls inside inlined), its arguments and outputs."""
        if name not in self._bodies:
            from .functions import function_body, inline_calls

            body = function_body(self.library[name], self.library)
            graph_def = body.graph_def()
            for function in self.library.values():
                graph_def.library.function.add().CopyFrom(function)
            inline_calls(graph_def)
            self._bodies[name] = {"nodes": {n.name: n for n in graph_def.node},
                                  "inputs": body.inputs, "outputs": body.outputs}
        return self._bodies[name]


# -- While loops of run-time length (TF2 While, TF1 frame): one OpenVINO Loop ------------------
@dataclass(frozen=True)
class RunTimeList:
    """A tensor list (TF2) or TensorArray (TF1) of a length only known at run time (a Keras
    RNN or `dynamic_rnn` over a dynamic time axis reserves its output list so): only an
    OpenVINO Loop can fill it, one element per iteration. `size` is the length it was given:
    what the Loop does not write reads as zeros, as in TensorFlow."""

    element_type: str
    element_shape: tuple | None
    size: Output | None = None


@dataclass(frozen=True)
class LoopSlot:
    """Inside a Loop body, what one iteration writes into a `RunTimeList`: `item` at `index`
    (None until the body writes it)."""

    element_type: str
    element_shape: tuple | None
    item: Output | None = None
    index: Output | None = None

    def write(self, index: Output, item: Output, where: NodeRef) -> "LoopSlot":
        if self.item is not None:
            raise UserInputError("writes a second element into a list of run-time length in "
                                 "one iteration; an OpenVINO Loop output takes one per "
                                 "iteration", node=where)
        return LoopSlot(self.element_type, self.element_shape, item, index)


@dataclass(frozen=True)
class LoopItems:
    """Inside a Loop body, a list of known length the body writes at constant indices (a
    Keras RNN without return_sequences keeps its one last output so): `writes` maps an index
    to what this iteration wrote there; after the Loop each holds the last iteration's."""

    element_type: str
    element_shape: tuple | None
    writes: tuple = ()  # ((index, item), ...)

    def write(self, index: Output, item: Output, where: NodeRef, memo: dict) -> "LoopItems":
        position = constant_value(index, memo) if isinstance(index, Output) else None
        if position is None:
            raise UserInputError("writes a list of known length inside a loop of run-time "
                                 "length at an index that is only known at run time",
                                 node=where)
        kept = tuple((i, v) for i, v in self.writes if i != int(position.reshape(-1)[0]))
        return LoopItems(self.element_type, self.element_shape,
                         kept + ((int(position.reshape(-1)[0]), item),))


# The list ops that write one element: op -> (list input, index input, element input).
LIST_WRITES = {"TensorListSetItem": (0, 1, 2), "TensorArrayWriteV3": (3, 1, 2)}
# TF1 TensorArray ops: input 0 is the array's handle, which only names it; the flow input
# (the last) carries the list, so the handle of a run-time array is never read.
TENSOR_ARRAY_OPS = frozenset({"TensorArrayReadV3", "TensorArrayWriteV3", "TensorArrayGatherV3",
                              "TensorArrayScatterV3", "TensorArraySizeV3"})
RUN_TIME_VALUES = (RunTimeList, LoopSlot, LoopItems)


def run_time_list_op(node, inputs: list, memo: dict):
    """What a tensor-list op makes when its list has a run-time length (see `RunTimeList`),
    or None: the op's own handler translates it."""
    where = NodeRef(node.op, node.name)
    reserved = _run_time_reservation(node, inputs, memo)
    if reserved is not None:
        return reserved
    write = LIST_WRITES.get(node.op)
    if write is not None and isinstance(inputs[write[0]], LoopSlot):
        return inputs[write[0]].write(inputs[write[1]], inputs[write[2]], where)
    if write is not None and isinstance(inputs[write[0]], LoopItems):
        return inputs[write[0]].write(inputs[write[1]], inputs[write[2]], where, memo)
    if node.op == "TensorArrayScatterV3" and isinstance(inputs[3], RunTimeList):
        return _scattered(inputs[3], inputs[1], inputs[2], where, memo)
    read = inputs[1:] if node.op in TENSOR_ARRAY_OPS else inputs
    if any(isinstance(value, RUN_TIME_VALUES) for value in read) \
            and node.op not in ("Identity", "IdentityN") and node.op not in FUNCTIONAL_OPS:
        raise UserInputError("uses a tensor list whose length is only known at run time; only "
                             "a while loop writing it one element per iteration (as Keras RNNs "
                             "and dynamic_rnn do) is converted", node=where)
    return None


def _run_time_reservation(node, inputs: list, memo: dict):
    """A TensorListReserve or TensorArrayV3 whose length is only known at run time, as a
    `RunTimeList` (a TensorArray's handle and flow both), or None."""
    if node.op == "TensorListReserve" and len(inputs) > 1 and _run_time(inputs[1], memo):
        return RunTimeList(_list_element_type(node, "element_dtype"),
                           _list_element_shape(inputs[0], memo), inputs[1])
    if node.op == "TensorArrayV3" and inputs and _run_time(inputs[0], memo):
        from .tensors import shape_of

        shape = shape_of(node.attr["element_shape"].shape)
        array = RunTimeList(_list_element_type(node, "dtype"),
                            shape if shape and all(d >= 0 for d in shape) else None, inputs[0])
        return [array, array]
    return None


def _run_time(value, memo: dict) -> bool:
    return isinstance(value, Output) and constant_value(value, memo) is None


def _scattered(array: RunTimeList, indices, value, where: NodeRef, memo: dict):
    """A TensorArray of run-time size scattered whole (`unstack`: at 0, 1, ..., n-1) is the
    list made from `value`, read in a loop with a Gather."""
    from .handlers.tensor_list import TensorList

    is_range = isinstance(indices, Output) and indices.node.op == "Range" \
        and _is_value(indices.node.inputs[0], 0, memo) \
        and _is_value(indices.node.inputs[2], 1, memo)
    if not is_range or not isinstance(value, Output):
        raise UserInputError("scatters into a TensorArray of run-time size at indices other "
                             "than 0, 1, ..., n-1 (only a whole tensor unstacked into it is "
                             "converted)", node=where)
    return TensorList(array.element_type, array.element_shape, None, value)


def _list_element_type(node, attr: str) -> str:
    from ...element_types import from_numpy
    from .tensors import numpy_type

    return from_numpy(numpy_type(node.attr[attr].type, f"{node.op} node {node.name!r}"))


def _list_element_shape(value, memo: dict) -> tuple | None:
    shape = constant_value(value, memo) if isinstance(value, Output) else None
    if shape is None or shape.ndim == 0:
        return None
    return tuple(int(d) for d in shape.reshape(-1))


@dataclass
class _BodyAttempt:
    """One translation of a loop's body (and condition) into a body Graph."""

    graph: Graph
    args: list                      # what each loop variable is bound to in the body
    parameters: dict                # loop variable index -> its body Parameter (Output)
    outputs: list                   # what the body returns per loop variable
    condition: Output               # the condition on those: the next execution condition


class WhileLoop:
    """A TF2 While as `LoopBuilder` reads it: its loop variables are the While's inputs, its
    body and condition its body and cond functions."""

    def __init__(self, translator: "Translator", node):
        self.translator = translator
        self.node = node
        self.where = NodeRef(node.op, node.name)
        self.name = f"{translator.prefix}{node.name}{translator._suffix}"

    def body(self, args: list) -> list:
        return self.translator._call(self.node, "body", args, "/body")

    def condition(self, values: list, suffix: str):
        return self.translator._call(self.node, "cond", values, suffix)[0]

    def refusal(self, detail: str) -> str:
        return detail

    def variable(self, index: int) -> str:
        return f"loop variable {index}"


class FrameLoop:
    """A TF1 frame as `LoopBuilder` reads it. Its loop variables are its Merges, then the
    Enters no Merge reads (what every iteration reads unchanged, as the weights of
    `dynamic_rnn`'s cell): the body binds each Merge's Switch to its variable and gives the
    NextIteration inputs (and the invariants unchanged), the condition is the LoopCond's
    input with the Merges bound to the values."""

    def __init__(self, translator: "Translator", frame: LoopFrame, scope: Scope):
        self.translator = translator
        self.frame = frame
        self.scope = scope
        initials = set(frame.initial.values())
        self.invariants = [enter for enter in frame.enters if enter.name not in initials]
        self.where = NodeRef("LoopCond", frame.loop_cond.name)
        self.name = f"{translator.prefix}{frame.name}{translator._suffix}"

    def initial_values(self) -> list:
        enters = {enter.name: enter for enter in self.frame.enters}
        merges = [enters[self.frame.initial[merge.name]] for merge in self.frame.merges]
        return [self.scope.tensor(enter.input[0]) for enter in merges + self.invariants]

    def body(self, args: list) -> list:
        merges = self.frame.merges
        refs = [self.frame.next_iteration[merge.name].input[0] for merge in merges]
        return self._run(refs, args, "/body") + list(args[len(merges):])

    def condition(self, values: list, suffix: str):
        return self._run([self.frame.loop_cond.input[0]], values, suffix)[0]

    def refusal(self, detail: str) -> str:
        return f"the while loop {self.frame.name!r} cannot be one OpenVINO Loop: {detail}"

    def variable(self, index: int) -> str:
        """Loop variable `index` named by its node: its Merge, or an invariant's Enter."""
        merges = self.frame.merges
        node = merges[index] if index < len(merges) else self.invariants[index - len(merges)]
        return f"loop variable {index} ({node.op} {node.name!r})"

    def _run(self, refs: list, values: list, suffix: str) -> list:
        """`refs` translated with the loop variables bound to `values`."""
        local = Scope(self.scope)
        for merge, value in zip(self.frame.merges, values):
            local.set(merge.name, [value, None])
            local.set(self.frame.switch[merge.name].name, [DEAD, value])
        for enter, value in zip(self.invariants, values[len(self.frame.merges):]):
            local.set(enter.name, [value])
        outer_suffix = self.translator._suffix
        self.translator._suffix = outer_suffix + suffix
        try:
            return self.translator.run(refs, local)
        finally:
            self.translator._suffix = outer_suffix


class LoopBuilder:
    """A while loop whose trip count depends on the model's inputs (a TF2 While, see
    `WhileLoop`, or a TF1 frame, see `FrameLoop`), as one OpenVINO Loop.

    Loop variables are tensors (carried by back edges when the body changes them, fed as
    loop-invariant inputs when it hands them back unchanged, copied into the body when they
    are constants), tensor lists made from a tensor (read in the body with a Gather), and
    `RunTimeList`s the body fills at the iteration counter (concatenated Loop outputs). The
    body is translated again while what it produces widens the shapes its Parameters were
    given (a dimension that changes across iterations becomes dynamic)."""

    ATTEMPTS = 4

    def __init__(self, translator: Translator, loop: "WhileLoop | FrameLoop"):
        self.translator = translator
        self.loop = loop
        self.name = loop.name

    def build(self, inputs: list) -> list:
        if self.translator.graph is None:
            raise self._refuse("the while loop runs a number of times that depends on the "
                               "model's inputs, and this translation can only unroll loops")
        kinds = [self._kind(index, value) for index, value in enumerate(inputs)]
        shapes = [value.shape if kind == "tensor" else None for value, kind in zip(inputs, kinds)]
        inlined: set[int] = set()
        for _ in range(self.ATTEMPTS):
            attempt = self._translate_body(inputs, kinds, shapes, inlined)
            widened = [_merged_shape(shape, attempt.outputs[i])
                       if kinds[i] == "tensor" and i not in inlined else shape
                       for i, shape in enumerate(shapes)]
            constants = inlined | {i for i, parameter in attempt.parameters.items()
                                   if attempt.outputs[i] == parameter
                                   and inputs[i].value is not None}
            if widened == shapes and constants == inlined:
                break
            shapes, inlined = widened, constants
        return self._assemble(inputs, kinds, attempt, inlined)

    def _kind(self, index: int, value) -> str:
        from .handlers.tensor_list import TensorList

        if isinstance(value, Output):
            return "tensor"
        if isinstance(value, TensorList) and value.items is None:
            return "stacked"
        if isinstance(value, RunTimeList):
            return "filled"
        if isinstance(value, TensorList):
            return "items"
        what = type(value).__name__
        raise self._refuse(f"its {self.loop.variable(index)} is a {what}, which an OpenVINO Loop "
                           f"cannot carry")

    def _translate_body(self, inputs: list, kinds: list, shapes: list,
                        inlined: set[int]) -> _BodyAttempt:
        from .handlers.tensor_list import TensorList

        body = Graph(f"{self.name}/body")
        args, parameters = [], {}
        for index, (value, kind) in enumerate(zip(inputs, kinds)):
            name = f"{body.name}/input_{index}"
            if kind == "tensor" and index in inlined:
                args.append(body.const(value.value, name=name))
            elif kind == "tensor":
                parameters[index] = _parameter(body, name, shapes[index], value.element_type)
                args.append(parameters[index])
            elif kind == "stacked":
                stacked = _parameter(body, name, value.stacked.shape, value.stacked.element_type)
                args.append(TensorList(value.element_type, value.element_shape, None, stacked))
            elif kind == "filled":
                args.append(LoopSlot(value.element_type, value.element_shape))
            else:
                args.append(LoopItems(value.element_type, value.element_shape))
        outputs = self.loop.body(args)
        condition = self.loop.condition(outputs, "/body/condition")
        return _BodyAttempt(body, args, parameters, outputs, condition)

    def _assemble(self, inputs: list, kinds: list, attempt: _BodyAttempt,
                  inlined: set[int]) -> list:
        import numpy as np

        from ...ops.control_flow import (EXECUTION_CONDITION, Body, InputPort, OutputPort,
                                         Slicing)
        from .handlers.tensor_list import TensorList

        graph, body = self.translator.graph, attempt.graph
        initial = self.loop.condition(inputs, "/condition")
        loop_inputs = [graph.const(np.array(-1, np.int64), name=f"{self.name}/trip_count"),
                       _scalar(graph, self._tensor(initial, "its condition"), self.name)]
        spec = Body(body)
        external: dict[int, int] = {}
        last: dict[int, list[tuple[int, int]]] = {}  # list variable -> [(index, output)]
        for index, kind in enumerate(kinds):
            out = attempt.outputs[index]
            if kind == "tensor" and index not in inlined:
                parameter = attempt.parameters[index]
                spec.inputs.append(InputPort(len(loop_inputs), parameter.node))
                loop_inputs.append(inputs[index])
                if out != parameter:
                    result = body.result(self._tensor(out, self.loop.variable(index)),
                                         f"{body.name}/output_{index}")
                    external[index] = len(spec.outputs)
                    spec.outputs.append(OutputPort(external[index], result))
                    spec.back_edges.append((result, parameter.node))
            elif kind == "stacked":
                stacked = attempt.args[index].stacked
                if not isinstance(out, TensorList) or out.stacked != stacked:
                    raise self._refuse(f"its body changes the tensor list it reads "
                                       f"({self.loop.variable(index)}); an OpenVINO Loop "
                                       f"cannot carry it")
                spec.inputs.append(InputPort(len(loop_inputs), stacked.node))
                loop_inputs.append(inputs[index].stacked)
            elif kind == "filled" and not (isinstance(out, LoopSlot) and out.item is None):
                self._check_counter(out, index, inputs, attempt)
                part = body.op("Unsqueeze", out.item,
                               body.const(np.array([0], np.int64), name=f"{body.name}/axis_0"),
                               name=f"{body.name}/element_{index}")
                result = body.result(part, f"{body.name}/output_{index}")
                external[index] = len(spec.outputs)
                spec.outputs.append(OutputPort(external[index], result, Slicing(0)))
            elif kind == "items":
                last[index] = self._last_writes(out, index, spec)
        stop = _scalar(body, self._tensor(attempt.condition, "its condition"), body.name)
        spec.outputs.append(OutputPort(None, body.result(stop, f"{body.name}/condition"),
                                       purpose=EXECUTION_CONDITION))
        loop = graph.add("Loop", loop_inputs, {"body": spec}, name=self.name,
                         num_outputs=len(spec.outputs) - 1)
        produced = list(inputs)
        for index, port in external.items():
            value = inputs[index]
            produced[index] = loop.output(port) if kinds[index] == "tensor" else TensorList(
                value.element_type, value.element_shape, None,
                _zero_padded(graph, loop.output(port), value.size, f"{self.name}/output_{index}"))
        for index, writes in last.items():
            value = inputs[index]
            items = list(value.items)
            for position, port in writes:
                items[position] = loop.output(port)
            produced[index] = TensorList(value.element_type, value.element_shape, tuple(items))
        return produced

    def _last_writes(self, out, index: int, spec) -> list[tuple[int, int]]:
        """Each element the body writes into a list of known length, as a Loop output of
        the last iteration's value: [(list index, Loop output)]."""
        from ...ops.control_flow import OutputPort

        if not isinstance(out, LoopItems):
            raise self._refuse(f"its body replaces the list of {self.loop.variable(index)}; an "
                               f"OpenVINO Loop cannot carry it")
        writes = []
        for position, item in out.writes:
            result = spec.graph.result(self._tensor(item, f"element {position} of "
                                                    f"{self.loop.variable(index)}"),
                                       f"{spec.graph.name}/output_{index}_{position}")
            writes.append((position, len(spec.outputs)))
            spec.outputs.append(OutputPort(len(spec.outputs), result))
        return writes

    def _check_counter(self, slot, index: int, inputs: list, attempt: _BodyAttempt) -> None:
        """A list filled by the Loop must be written at the iteration number: at a loop
        variable that starts at 0 and grows by 1 each time round."""
        if not isinstance(slot, LoopSlot):
            raise self._refuse(f"its body replaces the list of run-time length it fills "
                               f"({self.loop.variable(index)})")
        counter = next((i for i, parameter in attempt.parameters.items()
                        if slot.index == parameter), None)
        if counter is None or not _is_value(inputs[counter], 0, self.translator.memo) \
                or not _adds_one(attempt.outputs[counter], slot.index, self.translator.memo):
            raise self._refuse(f"its body writes {self.loop.variable(index)}, a list of run-time "
                               f"length, at an index that is not the iteration counter; only "
                               f"lists written in order are converted")

    def _tensor(self, value, what: str) -> Output:
        if not isinstance(value, Output):
            raise self._refuse(f"{what} is a {type(value).__name__}, not a tensor; an "
                               f"OpenVINO Loop cannot carry it")
        return value

    def _refuse(self, detail: str) -> UserInputError:
        return UserInputError(self.loop.refusal(detail), node=self.loop.where)


def _zero_padded(graph: Graph, stacked: Output, size: Output | None, name: str) -> Output:
    """The elements a Loop wrote (one per iteration) followed by zeros up to `size`, the
    length the list was given: a loop may stop before it (`dynamic_rnn` stops at the longest
    `sequence_length`), and TensorFlow reads what was not written as zeros."""
    import numpy as np

    from ...element_types import to_numpy

    if size is None or stacked.rank is None:
        return stacked
    axis = graph.const(np.array(0, np.int64), name=f"{name}/axis")
    shape = graph.op("ShapeOf", stacked, name=f"{name}/shape", output_type="i64")
    written = graph.op("Gather", shape, graph.const(np.array([0], np.int64)), axis,
                       name=f"{name}/written", batch_dims=0)
    element = graph.op("Gather", shape, graph.const(np.arange(1, stacked.rank, dtype=np.int64)),
                       axis, name=f"{name}/element_shape", batch_dims=0)
    length = graph.op("Convert", graph.op("Reshape", size, graph.const(np.array([1], np.int64)),
                                          name=f"{name}/size", special_zero=False),
                      name=f"{name}/length", destination_type="i64")
    unwritten = graph.op("Subtract", length, written, name=f"{name}/unwritten",
                         auto_broadcast="numpy")
    missing = graph.op("Maximum", unwritten, graph.const(np.array([0], np.int64)),
                       name=f"{name}/missing", auto_broadcast="numpy")
    zeros = graph.op("Broadcast", graph.const(np.zeros((), to_numpy(stacked.element_type))),
                     graph.op("Concat", missing, element, name=f"{name}/zeros_shape", axis=0),
                     name=f"{name}/zeros", mode="numpy")
    return graph.op("Concat", stacked, zeros, name=f"{name}/padded", axis=0)


def _merged_shape(shape, value):
    """The shape both `shape` and `value`'s fit (see ops.control_flow.merge_shapes)."""
    from ...ops.control_flow import merge_shapes

    return merge_shapes(shape, value.shape) if isinstance(value, Output) else shape


def _parameter(body: Graph, name: str, shape, element_type: str) -> Output:
    parameter = body.parameter(name, shape, element_type)
    parameter.info.names = set()  # names are the outer tensors'
    return parameter


def _scalar(graph: Graph, value: Output, name: str) -> Output:
    """A one-element condition as the scalar OpenVINO's Loop wants."""
    import numpy as np

    if value.shape == ():
        return value
    empty = graph.const(np.zeros([0], np.int64), name=f"{name}/scalar_shape")
    return graph.op("Reshape", value, empty, name=f"{name}/scalar", special_zero=False)


def _is_value(value, expected: int, memo: dict) -> bool:
    known = constant_value(value, memo) if isinstance(value, Output) else None
    return known is not None and known.size == 1 and known.reshape(-1)[0] == expected


def _adds_one(value, parameter: Output, memo: dict) -> bool:
    """Whether `value` is `parameter + 1`."""
    if not isinstance(value, Output) or value.node.op != "Add":
        return False
    first, second = value.node.inputs
    return (first == parameter and _is_value(second, 1, memo)) or \
        (second == parameter and _is_value(first, 1, memo))
