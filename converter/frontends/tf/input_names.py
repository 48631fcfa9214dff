"""`--input` names in TensorFlow's forms, resolved to the node each one cuts at.

mo and ovc accept a TensorFlow input as `name` (the node), `name:port` (output `port` of the
node: `x:0` is the tensor feeding a model as `x:0`) or `port:name` (input `port` of the node: the
tensor that feeds it). The frontend cuts at nodes, so each form resolves to a node: `name:0` to
`name`, `port:name` to the node producing that input (cut there, for every consumer of it). A
cut at output port N > 0 of a node with several outputs is refused: its other outputs would have
no source.
"""
from __future__ import annotations

from dataclasses import replace

from ...errors import UserInputError
from ...options import ConversionOptions
from .graph_def import split_tensor_name


def resolve_input_names(nodes: dict, options: ConversionOptions) -> ConversionOptions:
    """`options` with every `--input` and `--freeze_placeholder_with_value` name a node of
    `nodes` (unchanged when they already are)."""
    frozen = options.freeze_placeholder_with_value
    if all(cut.name in nodes for cut in options.input) and all(n in nodes for n, _ in frozen):
        return options
    cuts = tuple(replace(cut, name=node_for(nodes, cut.name)) for cut in options.input)
    return options.replace(input=cuts, freeze_placeholder_with_value=tuple(
        (node_for(nodes, name), values) for name, values in frozen))


def node_for(nodes: dict, name: str) -> str:
    if name in nodes:
        return name
    port, colon, rest = name.partition(":")
    if colon and port.isdigit() and rest in nodes:
        return _producer_of_input(nodes[rest], int(port), name)
    node, index = split_tensor_name(name)
    if node in nodes and node != name:
        if index != 0:
            raise UserInputError(f"--input {name}: cutting at output {index} of node {node!r} is "
                                 f"not supported (only output 0 or an input port, as "
                                 f"{index}:{node} is not either); name the node that reads it")
        return node
    raise UserInputError(f"--input names {name!r}, which is no node of the graph (give a node "
                         f"name, name:port or port:name)")


def _producer_of_input(node, port: int, name: str) -> str:
    data_inputs = [ref for ref in node.input if not ref.startswith("^")]
    if port >= len(data_inputs):
        raise UserInputError(f"--input {name}: node {node.name!r} has {len(data_inputs)} "
                             f"input(s), no input {port}")
    source, index = split_tensor_name(data_inputs[port])
    if index != 0:
        raise UserInputError(f"--input {name}: input {port} of {node.name!r} is output {index} of "
                             f"{source!r}, and cutting there is not supported")
    return source
