"""Cutting the Object Detection API's preprocessing loop out of a GraphDef.

`Preprocessor/map` resizes each image of the batch to the model's size in a while-loop over
TensorArrays. The converted model takes its input at that size already, where the resize is
the identity, so the loop goes: the node reading the loop's gathered output reads what the loop
was given instead. Exports that normalize inside the loop (Mul/Sub/Add/RealDiv by constants
after the resize, as older Object Detection API versions did) get those ops re-created outside,
in the same order, so the image is normalized exactly as before.
"""
from __future__ import annotations

from ....errors import UserInputError
from ..graph_def import input_node_name, split_tensor_name
from .ssd_graph import PREPROCESSOR_LOOP, ResizeLoop

NORMALIZATION_OPS = frozenset({"Mul", "Sub", "Add", "AddV2", "RealDiv", "Div"})
# ops a constant passes through on its way into a loop body
_CONSTANT_CARRIERS = frozenset({"Identity", "Enter"})
LOOP_BODY = f"{PREPROCESSOR_LOOP}while/"
MOVED_SCOPE = "Preprocessor/"


def cut_resize_loop(graph_def, loop: ResizeLoop):
    """A copy of `graph_def` in which the loop's readers read its input (normalized as the loop
    body did, when it did)."""
    result = type(graph_def)()
    result.CopyFrom(graph_def)
    nodes = {node.name: node for node in result.node}
    chain = _normalization_in_loop(nodes, nodes[loop.image_write])
    image = loop.source
    for node in chain:
        image = _recreate_outside(result, nodes, node, image)
    _redirect_readers(result, loop.gather, image)
    return result


def _normalization_in_loop(nodes: dict, write) -> list:
    """The normalization ops between the resize and the TensorArray write, first op first."""
    chain = []
    node = nodes[input_node_name(write.input[2])]
    while node.op in NORMALIZATION_OPS and node.name.startswith(LOOP_BODY):
        data = [i for i, ref in enumerate(node.input[:2]) if _constant(nodes, ref) is None]
        if len(data) != 1:
            raise UserInputError(f"{node.op} node {node.name!r} in the preprocessing loop does not "
                                 f"apply a constant to the image; this export's preprocessing "
                                 f"cannot be converted")
        chain.append(node)
        node = nodes[input_node_name(node.input[data[0]])]
    return chain[::-1]


def _constant(nodes: dict, ref: str):
    """The Const node `ref` carries (through Identity and Enter), or None."""
    node = nodes.get(input_node_name(ref))
    while node is not None and node.op in _CONSTANT_CARRIERS:
        node = nodes.get(input_node_name(node.input[0]))
    return node if node is not None and node.op == "Const" else None


def _recreate_outside(graph_def, nodes: dict, op, image: str) -> str:
    """Add a copy of the loop-body op `op` that applies its constant to `image`; its name."""
    name = _free_name(nodes, MOVED_SCOPE + op.name[len(LOOP_BODY):])
    inputs = []
    for index, ref in enumerate(op.input[:2]):
        constant = _constant(nodes, ref)
        if constant is None:
            inputs.append(image)
            continue
        copy = graph_def.node.add()
        copy.CopyFrom(constant)
        copy.name = _free_name(nodes, f"{name}/operand_{index}")
        del copy.input[:]  # control inputs tied it to the loop's frame
        nodes[copy.name] = copy
        inputs.append(copy.name)
    moved = graph_def.node.add()
    moved.CopyFrom(op)
    moved.name = name
    del moved.input[:]
    moved.input.extend(inputs)
    nodes[name] = moved
    return name


def _free_name(nodes: dict, base: str) -> str:
    name, n = base, 1
    while name in nodes:
        name, n = f"{base}_{n}", n + 1
    return name


def _redirect_readers(graph_def, gather: str, image: str) -> None:
    for node in graph_def.node:
        for index, ref in enumerate(node.input):
            if not ref.startswith("^") and split_tensor_name(ref) == (gather, 0):
                node.input[index] = image
