"""Translating a GraphDef on demand, with TensorFlow control flow whose course is known at
conversion time unrolled.

A TF1 while loop (and a TF2 loop lowered by freezing, as Keras RNNs are) is a frame of nodes:

    Before (one frame, x a loop variable, n the iterations):
        x0 -> Enter -> Merge <- NextIteration <- body <- Switch:1
                       Merge -> cond -> LoopCond -> Switch(Merge, LoopCond) -> Exit (Switch:0)
    After:
        x0 -> body -> body -> ... (n times) -> what read the Exit

The loop's condition is computed from constants each time round (`constant_value`): a loop
whose trip count depends on the model's inputs is refused, naming it. The body is translated
once per iteration into a scope of its own, so each iteration gets its own OpenVINO nodes.
A `Switch` outside a loop (TF1's `tf.cond`) with a constant predicate leaves its untaken
output DEAD; everything computed from a dead tensor is dead, and `Merge` takes the live one.

`Translator.run(refs, scope)` translates what `refs` need, inputs before consumers, into
`scope`; the frontend's `translate` runs it on the graph's outputs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ...errors import NodeRef, UserInputError
from ...graph import Output
from ..common import constant_value
from .graph_def import input_node_name, split_tensor_name

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
                 library: dict | None = None, prefix: str = "", memo: dict | None = None):
        self.nodes = nodes
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
        order, done, walking = [], set(), set()
        stack = [(name, False) for name in reversed(roots)]
        while stack:
            name, expanded = stack.pop()
            if name in done:
                continue
            if expanded:
                done.add(name)
                order.append(self.nodes[name])
                continue
            if name in scope:
                done.add(name)
                continue
            if name in walking:
                raise UserInputError(f"node {name!r} depends on itself outside a while loop "
                                     f"this converter recognizes")
            node = self.nodes.get(name)
            if node is None:
                raise UserInputError(f"a node reads {name!r}, which is not in the graph")
            walking.add(name)
            stack.append((name, True))
            for ref in reversed(self._dependencies(node)):
                source = input_node_name(ref)
                if source not in done:
                    stack.append((source, False))
        return order

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
        if node.op in FUNCTIONAL_OPS:
            produced = self._functional(node, inputs)
        else:
            produced = self.translate_node(node, inputs, self.prefix + node.name + self._suffix)
        many = isinstance(produced, (list, tuple)) and not isinstance(produced, Output)
        scope.set(node.name, list(produced) if many else [produced])

    def _unroll(self, frame: LoopFrame, scope: Scope) -> None:
        """Run the loop's condition on the current values; while it holds, translate the body
        once more on them. The Exits then carry the last values."""
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
                if not self._holds(frame, local):
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
        for exit_node, merge in frame.exits:
            scope.set(exit_node.name, [state[merge]])

    def _holds(self, frame: LoopFrame, local: Scope) -> bool:
        if frame.loop_cond is None:
            raise UserInputError(f"the while loop {frame.name!r} has no LoopCond")
        condition = self.run([frame.loop_cond.input[0]], local)[0]
        value = None if condition is DEAD else constant_value(condition, self.memo)
        if value is None:
            raise UserInputError(
                f"the while loop {frame.name!r} runs a number of times that depends on the "
                f"model's inputs; only loops whose trip count is known at conversion time are "
                f"converted (unrolled): give static input shapes (--input_shape)",
                node=NodeRef("LoopCond", frame.loop_cond.name))
        return bool(value.reshape(-1)[0])

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
            if held is None:
                raise UserInputError(
                    "the while loop runs a number of times that depends on the model's inputs; "
                    "only loops whose trip count is known at conversion time are converted "
                    "(unrolled): give static input shapes (--input_shape)", node=where)
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
                                self.library, f"{self.prefix}{node.name}/", self.memo)
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
