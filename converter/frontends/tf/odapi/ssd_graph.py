"""Where the parts of an Object Detection API SSD export sit in its frozen GraphDef.

An exported SSD reads `image_tensor`, preprocesses it (a cast, the normalization, and a
`Preprocessor/map` while-loop resizing each image through TensorArrays), runs the feature
extractor, and gathers the box predictors' outputs into two ConcatV2 nodes: the box encodings
([B, N, 1, 4] or [B, N, 4]) and the class predictions ([B, N, C+1]). Everything after them is
the Postprocessor, which the converter replaces. Nothing is matched by position in the file:
the concatenations are told apart by walking back to the predictor convolutions that feed them.
"""
from __future__ import annotations

from dataclasses import dataclass

from ....errors import InternalError, UserInputError
from ..graph_def import input_node_name

IMAGE_INPUT = "image_tensor"
PREPROCESSOR_LOOP = "Preprocessor/map/"
BOX_PREDICTOR_CONV = "BoxEncodingPredictor/"
CLASS_PREDICTOR_CONV = "ClassPredictor/"
_PREDICTOR_SEARCH_DEPTH = 6


@dataclass(frozen=True)
class ResizeLoop:
    """The preprocessing map loop: what it is given (`source`, a tensor name), the node that
    hands its result on (`gather`), and the TensorArrayWriteV3 inside that stores each image."""

    source: str
    gather: str
    image_write: str


@dataclass(frozen=True)
class SsdGraph:
    """The tensors of an SSD export the conversion needs."""

    image_input: str
    loop: ResizeLoop
    box_encodings: str
    class_predictions: str
    box_predictor_convs: tuple[str, ...]  # one per feature map, in the concatenation's order


def mismatch(config_path: str, what: str) -> UserInputError:
    return UserInputError(f"the graph does not match its pipeline.config {config_path}: {what}; "
                          f"give the frozen_inference_graph.pb the Object Detection API exported "
                          f"with this config (an SSD exported for image_tensor input)")


def find_ssd_graph(nodes: dict, config_path: str) -> SsdGraph:
    """The SSD parts of the GraphDef's nodes (name -> NodeDef); `mismatch` when one is missing."""
    image = nodes.get(IMAGE_INPUT)
    if image is None or image.op != "Placeholder":
        raise mismatch(config_path, f"it has no Placeholder named {IMAGE_INPUT!r}")
    loop = _find_resize_loop(nodes, config_path)
    boxes, classes = _find_predictions(nodes, config_path)
    convs = tuple(_predictor_conv(nodes, ref, BOX_PREDICTOR_CONV)
                  for ref in _data_inputs(nodes[boxes]) if nodes[input_node_name(ref)].op != "Const")
    return SsdGraph(IMAGE_INPUT, loop, boxes, classes, convs)


def _find_resize_loop(nodes: dict, config_path: str) -> ResizeLoop:
    gathers = [n for n in nodes.values() if n.op == "TensorArrayGatherV3"
               and n.name.startswith(PREPROCESSOR_LOOP) and "/while/" not in n.name]
    scatters = [n for n in nodes.values() if n.op == "TensorArrayScatterV3"
                and n.name.startswith(PREPROCESSOR_LOOP)]
    if not gathers or len(scatters) != 1:
        raise mismatch(config_path, f"it has no {PREPROCESSOR_LOOP} resize loop (a "
                                    f"TensorArrayScatterV3 and TensorArrayGatherV3 there)")
    for gather in sorted(gathers, key=lambda n: n.name):
        write = _write_into(nodes, gather)
        if write is not None and _reads_image(nodes, write):
            return ResizeLoop(scatters[0].input[2], gather.name, write.name)
    raise mismatch(config_path, f"no TensorArray of the {PREPROCESSOR_LOOP} loop holds the "
                                f"resized images")


def _write_into(nodes: dict, gather):
    """The TensorArrayWriteV3 in the loop body that writes the TensorArray `gather` reads."""
    array = input_node_name(gather.input[0])
    for node in nodes.values():
        if node.op == "TensorArrayWriteV3" and node.name.startswith(PREPROCESSOR_LOOP):
            handle = nodes.get(input_node_name(node.input[0]))
            if (handle is not None and handle.op == "Enter"
                    and input_node_name(handle.input[0]) == array):
                return node
    return None


def _reads_image(nodes: dict, write) -> bool:
    """Whether the value written comes from a resize op (images, not their shapes)."""
    seen, stack = set(), [(input_node_name(write.input[2]), 0)]
    while stack:
        name, depth = stack.pop()
        node = nodes.get(name)
        if node is None or name in seen or depth > _PREDICTOR_SEARCH_DEPTH:
            continue
        seen.add(name)
        if node.op.startswith("Resize"):
            return True
        stack.extend((input_node_name(ref), depth + 1) for ref in _data_inputs(node))
    return False


def _find_predictions(nodes: dict, config_path: str) -> tuple[str, str]:
    """The ConcatV2 of the box encodings and that of the class predictions."""
    found: dict[str, list[str]] = {BOX_PREDICTOR_CONV: [], CLASS_PREDICTOR_CONV: []}
    for node in nodes.values():
        if node.op != "ConcatV2" or "BoxPredictor" not in "".join(node.input):
            continue
        parts = [ref for ref in _data_inputs(node) if nodes[input_node_name(ref)].op != "Const"]
        for kind, names in found.items():
            if parts and all(_predictor_conv(nodes, ref, kind, required=False) for ref in parts):
                names.append(node.name)
    boxes, classes = found[BOX_PREDICTOR_CONV], found[CLASS_PREDICTOR_CONV]
    if len(boxes) != 1 or len(classes) != 1:
        raise mismatch(config_path, f"expected one concatenation of the BoxPredictor box "
                                    f"encodings and one of their class predictions, found "
                                    f"{len(boxes)} and {len(classes)}")
    return boxes[0], classes[0]


def _predictor_conv(nodes: dict, ref: str, kind: str, required: bool = True) -> str | None:
    """The predictor convolution (its name containing `kind`) a concatenated tensor comes
    from, searched a few data inputs back (through BiasAdd, Reshape, Squeeze...)."""
    seen, stack = set(), [(input_node_name(ref), 0)]
    while stack:
        name, depth = stack.pop()
        if name in seen or depth > _PREDICTOR_SEARCH_DEPTH or name not in nodes:
            continue
        seen.add(name)
        node = nodes[name]
        if kind in name and node.op in ("Conv2D", "BiasAdd"):
            return name
        # input 0 (the data) is searched first; shape inputs only lead back into the extractor
        stack.extend((input_node_name(r), depth + 1) for r in reversed(_data_inputs(node)))
    if required:
        raise InternalError(f"{ref} was matched as a box predictor output, but no {kind} "
                            f"convolution feeds it")
    return None


def _data_inputs(node) -> list[str]:
    return [ref for ref in node.input if not ref.startswith("^")]
