"""Reading a binary GraphDef with its large tensor contents left in the file.

`read_graph_def` walks the file at the wire level and leaves every large `tensor_content` out
of the parsed message (a span in the file in its place); `tensor_value` reads those bytes back.
Each test builds a GraphDef with our own message classes (no TensorFlow), writes it, and
checks that what the walk gives equals protobuf's own parse of the same file.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from converter.errors import ModelLoadError
from converter.frontends import protowire
from converter.frontends.tf.graph_def import SPLIT_FROM_BYTES, read_graph_def
from converter.frontends.tf.proto import messages
from converter.frontends.tf.tensors import NUMPY_TYPES, content_span, tensor_value

DATA_TYPES = {np.dtype(numpy): number for number, numpy in NUMPY_TYPES.items()}
DT_STRING = 7


def tensor_proto(array: np.ndarray, typed_field: str | None = None):
    """A TensorProto of `array`: its bytes as tensor_content, or its values in `typed_field`."""
    tensor = messages().TensorProto(dtype=DATA_TYPES[array.dtype])
    for size in array.shape:
        tensor.tensor_shape.dim.add(size=size)
    if typed_field:
        getattr(tensor, typed_field).extend(array.reshape(-1).tolist())
    else:
        tensor.tensor_content = array.astype(array.dtype.newbyteorder("<")).tobytes()
    return tensor


def const_node(name: str, tensor):
    node = messages().NodeDef(name=name, op="Const")
    node.attr["value"].tensor.CopyFrom(tensor)
    node.attr["dtype"].type = tensor.dtype
    return node


def values(dtype, count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return rng.integers(0, 2, count).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, count, dtype=dtype, endpoint=True)
    return rng.standard_normal(count).astype(dtype)


def large_count(dtype) -> int:
    """An odd element count whose bytes are past the split size."""
    return SPLIT_FROM_BYTES // np.dtype(dtype).itemsize + 37


def write(tmp_path, graph_def, name: str = "model.pb"):
    path = tmp_path / name
    path.write_bytes(graph_def.SerializeToString())
    return path


def assert_same_as_protobuf(path):
    """The walked GraphDef equals protobuf's parse of the file: same nodes and attributes,
    every tensor the same value. Returns the walked GraphDef."""
    ours = read_graph_def(path)
    reference = messages().GraphDef.FromString(path.read_bytes())
    assert ours.library == reference.library
    assert len(ours.node) == len(reference.node)
    for mine, theirs in zip(ours.node, reference.node):
        assert (mine.name, mine.op, list(mine.input), mine.device) == (
            theirs.name, theirs.op, list(theirs.input), theirs.device)
        assert set(mine.attr) == set(theirs.attr)
        for key, value in theirs.attr.items():
            if value.WhichOneof("value") == "tensor":
                assert_same_tensor(mine.attr[key].tensor, value.tensor)
            else:
                assert mine.attr[key] == value
    return ours


def assert_same_tensor(mine, theirs) -> None:
    """Equal values; the large contents left in the file, every other field as protobuf has it."""
    split = len(theirs.tensor_content) >= SPLIT_FROM_BYTES
    assert (content_span(mine) is not None) == split
    assert mine.tensor_content == (b"" if split else theirs.tensor_content)
    assert (mine.dtype, mine.tensor_shape, list(mine.string_val)) == (
        theirs.dtype, theirs.tensor_shape, list(theirs.string_val))
    if theirs.dtype != DT_STRING:
        decoded, expected = tensor_value(mine, "test"), tensor_value(theirs, "test")
        assert decoded.dtype == expected.dtype and decoded.shape == expected.shape
        assert np.array_equal(decoded, expected)


@pytest.mark.parametrize("dtype", sorted(DATA_TYPES, key=str), ids=str)
def test_every_data_type_large_and_small(tmp_path, dtype):
    small = values(dtype, 6, seed=1).reshape(2, 3)
    large = values(dtype, large_count(dtype), seed=2)
    graph_def = messages().GraphDef()
    graph_def.node.add(name="x", op="Placeholder").attr["dtype"].type = DATA_TYPES[dtype]
    graph_def.node.append(const_node("small", tensor_proto(small)))
    graph_def.node.append(const_node("large", tensor_proto(large)))
    graph_def.node.add(name="y", op="AddV2", input=["x", "large"])
    ours = assert_same_as_protobuf(write(tmp_path, graph_def))
    value = tensor_value(ours.node[2].attr["value"].tensor, "large")
    assert value.dtype == dtype and np.array_equal(value, large)
    assert np.array_equal(tensor_value(ours.node[1].attr["value"].tensor, "small"), small)


def test_scalars_empty_strings_and_typed_values(tmp_path):
    """Only tensor_content is left out: typed *_val lists and string values stay, however
    large; scalars and empty tensors read back as they are."""
    strings = messages().TensorProto(dtype=DT_STRING)
    strings.tensor_shape.dim.add(size=3000)
    strings.string_val.extend(f"token{i}".encode() for i in range(3000))
    compact = tensor_proto(np.array([2.5], np.float32), "float_val")
    compact.tensor_shape.dim[0].size = 5000  # one value filling the whole tensor
    graph_def = messages().GraphDef()
    for name, tensor in [
            ("scalar", tensor_proto(np.array(7, np.int32))),
            ("empty", tensor_proto(np.zeros((0, 4), np.float32))),
            ("strings", strings),
            ("typed", tensor_proto(values(np.float32, 3000), "float_val")),
            ("typed_int64", tensor_proto(values(np.int64, 3000), "int64_val")),
            ("compact", compact),
            ("content", tensor_proto(values(np.float32, 3000)))]:
        graph_def.node.append(const_node(name, tensor))
    ours = assert_same_as_protobuf(write(tmp_path, graph_def))
    split = [node.name for node in ours.node if content_span(node.attr["value"].tensor)]
    assert split == ["content"]
    assert tensor_value(ours.node[0].attr["value"].tensor, "scalar").shape == ()
    assert tensor_value(ours.node[1].attr["value"].tensor, "empty").shape == (0, 4)
    assert list(ours.node[2].attr["value"].tensor.string_val)[-1] == b"token2999"


def test_odd_field_orders_and_repeated_contents(tmp_path):
    """Fields in any order, the last of two tensor_contents wins (as protobuf has it), and a
    tensor attribute of any op and key is split."""
    M = messages()
    weights = values(np.float32, 2000).reshape(40, 50)
    stale = values(np.float32, 2000, seed=9).reshape(40, 50)
    tensor = (M.TensorProto(tensor_content=stale.tobytes()).SerializeToString()
              + M.TensorProto(tensor_content=weights.tobytes()).SerializeToString()
              + M.TensorProto(tensor_shape=tensor_proto(weights).tensor_shape).SerializeToString()
              + M.TensorProto(dtype=1).SerializeToString())
    # NodeDef.attr {key: "weights", value {tensor}}, kept as built (not reserialized)
    attr = protowire.length_delimited(
        5, protowire.length_delimited(1, b"weights")
        + protowire.length_delimited(2, protowire.length_delimited(8, tensor)))
    node = (attr + M.NodeDef(input=["x"]).SerializeToString()
            + M.NodeDef(op="MyOp").SerializeToString() + M.NodeDef(name="odd").SerializeToString())
    placeholder = M.NodeDef(name="x", op="Placeholder").SerializeToString()
    data = (M.GraphDef(versions=M.VersionDef(producer=1205)).SerializeToString()
            + protowire.length_delimited(1, node) + protowire.length_delimited(1, placeholder))
    path = tmp_path / "odd.pb"
    path.write_bytes(data)
    ours = assert_same_as_protobuf(path)
    assert ours.versions.producer == 1205
    assert [n.name for n in ours.node] == ["odd", "x"]
    value = tensor_value(ours.node[0].attr["weights"].tensor, "odd")
    assert np.array_equal(value, weights)


def test_function_library_constants_are_split(tmp_path):
    graph_def = messages().GraphDef()
    graph_def.node.add(name="call", op="PartitionedCall").attr["f"].func.name = "body"
    function = graph_def.library.function.add()
    function.signature.name = "body"
    large = values(np.float32, 3000)
    function.node_def.append(const_node("kernel", tensor_proto(large)))
    ours = read_graph_def(write(tmp_path, graph_def))
    kernel = ours.library.function[0].node_def[0].attr["value"].tensor
    assert kernel.tensor_content == b"" and content_span(kernel) is not None
    assert np.array_equal(tensor_value(kernel, "kernel"), large)
    reference = messages().GraphDef.FromString((tmp_path / "model.pb").read_bytes())
    assert ours.node == reference.node


def big_graph(tmp_path):
    graph_def = messages().GraphDef()
    graph_def.node.add(name="x", op="Placeholder")
    graph_def.node.append(const_node("kernel", tensor_proto(values(np.float32, 20000))))
    graph_def.node.add(name="y", op="MatMul", input=["x", "kernel"])
    return write(tmp_path, graph_def, "broken.pb")


@pytest.mark.parametrize("cut", [0.5, 0.02, 0.999, 0.0])
def test_truncated_file_is_a_clear_error(tmp_path, cut):
    path = big_graph(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * cut)])
    with pytest.raises(ModelLoadError, match=r"broken\.pb: .*TensorFlow GraphDef"):
        read_graph_def(path)


LONG_VARINT = b"\x0a" + b"\xff" * 10  # field 1's length: a varint that never ends


@pytest.mark.parametrize("corrupt", [b"\x0f", b"\x00", LONG_VARINT],
                         ids=["wire type 7", "field 0", "long varint"])
def test_corrupt_file_is_a_clear_error(tmp_path, corrupt):
    path = big_graph(tmp_path)
    path.write_bytes(corrupt + path.read_bytes())
    with pytest.raises(ModelLoadError, match="broken.pb.*binary TensorFlow GraphDef"):
        read_graph_def(path)


def test_file_changed_after_reading_is_a_clear_error(tmp_path):
    """Values left in the file are read when needed: a file rewritten in between is noticed."""
    path = big_graph(tmp_path)
    graph_def = read_graph_def(path)
    kernel = graph_def.node[1].attr["value"].tensor
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ModelLoadError, match="broken.pb.*changed"):
        tensor_value(kernel, "Const node 'kernel'")


def test_a_span_written_in_the_file_reads_nothing(tmp_path):
    """A file cannot make the converter read another file: a span it carries itself (our
    private field number) names no file this conversion read, and is refused."""
    from converter.errors import UserInputError
    from converter.frontends.tf.proto import TENSOR_CONTENT_SPAN_FIELD

    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(4, dtype=np.float32).tobytes())
    forged = messages().TensorContentSpan(file=b"0123456789abcdef", offset=0, length=16)
    tensor = messages().TensorProto.FromString(
        tensor_proto(np.zeros(4, np.float32), "float_val").SerializeToString()
        + protowire.length_delimited(TENSOR_CONTENT_SPAN_FIELD, forged.SerializeToString()))
    tensor.ClearField("float_val")
    graph_def = messages().GraphDef()
    graph_def.node.append(const_node("forged", tensor))
    ours = read_graph_def(write(tmp_path, graph_def))
    with pytest.raises(UserInputError, match="'forged'.*did not read"):
        tensor_value(ours.node[0].attr["value"].tensor, "Const node 'forged'")


def test_contents_are_left_in_the_file(tmp_path):
    """The parsed message holds none of the large contents' bytes."""
    path = big_graph(tmp_path)
    graph_def = read_graph_def(path)
    assert graph_def.ByteSize() < 1000 < os.path.getsize(path) // 50


def test_converted_ir_computes_the_graph(tmp_path):
    """A graph whose weights were left in the file converts and computes x @ kernel + bias."""
    from converter import convert
    from modelzoo.runtime import run_openvino

    kernel = values(np.float32, 64 * 48, seed=3).reshape(64, 48)
    bias = values(np.float32, 48, seed=4)
    graph_def = messages().GraphDef()
    x = graph_def.node.add(name="x", op="Placeholder")
    x.attr["dtype"].type = 1
    for size in (2, 64):
        x.attr["shape"].shape.dim.add(size=size)
    graph_def.node.append(const_node("kernel", tensor_proto(kernel)))
    graph_def.node.append(const_node("bias", tensor_proto(bias)))
    matmul = graph_def.node.add(name="matmul", op="MatMul", input=["x", "kernel"])
    matmul.attr["T"].type = 1
    add = graph_def.node.add(name="y", op="BiasAdd", input=["matmul", "bias"])
    add.attr["T"].type = 1
    xml = convert(write(tmp_path, graph_def), tmp_path / "ir")
    feed = values(np.float32, 128, seed=5).reshape(2, 64)
    outputs = run_openvino(xml, {"x": feed})
    np.testing.assert_allclose(outputs["y:0"], feed @ kernel + bias, rtol=1e-5, atol=1e-4)


# -- the shared wire walker ----------------------------------------------------------------

@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**32, 2**63 - 1, 2**64 - 1])
def test_varints_round_trip(value):
    encoded = protowire.encode_varint(value)
    assert protowire.read_varint(encoded, 0, len(encoded)) == (value, len(encoded))


def test_fields_locate_every_wire_type():
    message = messages().TensorProto(dtype=1, version_number=-1, tensor_content=b"abc",
                                     double_val=[1.0], uint32_val=[5])
    data = message.SerializeToString()
    found = {f.number: f for f in protowire.fields(data, 0, len(data))}
    assert set(found) == {1, 3, 4, 6, 16}
    assert data[found[4].payload:found[4].end] == b"abc"
    assert found[6].size == 8  # one double, packed
    assert protowire.rewrite(data, 0, len(data), lambda f: None) is None
    dropped = protowire.rewrite(data, 0, len(data), lambda f: b"" if f.number == 4 else None)
    expected = messages().TensorProto()
    expected.CopyFrom(message)
    expected.ClearField("tensor_content")
    assert messages().TensorProto.FromString(dropped) == expected
