"""Property-based fuzzing of every loader that reads outside input: whatever the bytes, the only
exceptions are our own clear errors (PipelineError subclasses; UserInputError from the
converter: an InternalError is a bug). A few examples per target run in CI; for a real search:

    .venv/bin/pytest tests/test_fuzz.py --hypothesis-profile=long
"""
from __future__ import annotations

import hashlib
import io
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

import converter
from converter.errors import ConversionError, UserInputError
from converter.ir.validator import validate_ir
from modelzoo.cache import Cache
from modelzoo.errors import ArchiveError, ManifestError
from modelzoo.localzoo import _toml_value
from modelzoo.manifest import MODEL_KEYS, load_manifest
from modelzoo.unpack import unpack
from test_bad_models import frozen_graph_bytes
from tinymodels import conv_weights, write_conv_relu_ir, write_onnx_conv_relu
from zoo_fixtures import leftovers

SHA = "0" * 64


def mutated(data: bytes) -> st.SearchStrategy[bytes]:
    """`data` with a few bytes flipped, a slice cut out or repeated, or truncated."""
    def apply(edits: list[tuple[int, int, int]]) -> bytes:
        out = bytearray(data)
        for kind, where, value in edits:
            where %= max(len(out), 1)
            if kind == 0 and out:
                out[where] ^= value or 1
            elif kind == 1:
                del out[where:where + value % 64]
            elif kind == 2:
                out[where:where] = out[where:where + value % 64]
            else:
                del out[where:]
        return bytes(out)
    edit = st.tuples(st.integers(0, 3), st.integers(0, 1 << 30), st.integers(0, 255))
    return st.lists(edit, min_size=1, max_size=4).map(apply)


# -- the manifest ---------------------------------------------------------------------------
def load_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "models.toml"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        try:
            load_manifest(path)
        except ManifestError:
            pass


@given(st.text(alphabet=st.sampled_from('[]{}="\',.#\n abc_-01239eE+:/\\'), max_size=200))
def test_manifest_from_toml_ish_text(text):
    load_text('["m"]\nurl = "m.onnx"\n' + text)


scalars = st.one_of(st.booleans(), st.integers(-2**63, 2**63 - 1),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text("abcFP1236_", min_size=1, max_size=6),
                                                 inner, max_size=3)), max_leaves=8)


@given(st.dictionaries(st.sampled_from(sorted(MODEL_KEYS)), values, max_size=6), st.booleans())
def test_manifest_from_structured_values(table, in_defaults):
    body = "\n".join(f"{key} = {_toml_value(value)}" for key, value in table.items())
    if in_defaults:
        load_text(f"[defaults]\n{body}\n[m]\nurl = 'm.onnx'\nsha256 = '{SHA}'\n")
    else:
        load_text(f"[m]\n{body}\n")


# -- the unpacker ---------------------------------------------------------------------------
def real_archives() -> dict[str, bytes]:
    files = {"net/model.onnx": b"\x08\x07" * 200, "net/README": b"hello" * 30}
    tar_buffer, zip_buffer = io.BytesIO(), io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with zipfile.ZipFile(zip_buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return {"m.tar.gz": tar_buffer.getvalue(), "m.zip": zip_buffer.getvalue()}


ARCHIVES = real_archives()


@pytest.mark.parametrize("name", sorted(ARCHIVES))
@given(data=st.data())
def test_unpacking_mutated_archives(name, data):
    content = data.draw(mutated(ARCHIVES[name]))
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / name
        archive.write_bytes(content)
        cache = Cache(Path(folder) / "cache")
        checksum = ("sha256", hashlib.sha256(content).hexdigest())
        try:
            unpack(archive, checksum, cache, max_bytes=1 << 20, max_files=50)
        except ArchiveError:
            assert not cache.unpacked_dir(checksum).exists()
        assert leftovers(cache.root) == []


# -- the converter's loaders ----------------------------------------------------------------
def convert_bytes(content: bytes, name: str, **flags) -> None:
    with tempfile.TemporaryDirectory() as folder:
        model = Path(folder) / name
        model.write_bytes(content)
        try:
            converter.convert(model, output_dir=Path(folder) / "out", **flags)
        except ConversionError as exc:
            assert isinstance(exc, UserInputError), f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="module")
def onnx_bytes(tmp_path_factory) -> bytes:
    return write_onnx_conv_relu(tmp_path_factory.mktemp("onnx") / "m.onnx", *conv_weights()).read_bytes()


@given(data=st.data())
def test_converting_mutated_onnx(onnx_bytes, data):
    convert_bytes(data.draw(mutated(onnx_bytes)), "model.onnx")


@given(data=st.data())
def test_converting_mutated_graph_defs(data):
    convert_bytes(data.draw(mutated(frozen_graph_bytes())), "model.pb", framework="tf")


@given(st.lists(st.sampled_from(["Relu", "Sigmoid", "Add", "Mul", "MatMul", "Transpose",
                                 "Softmax", "Flatten", "Reshape"]), min_size=1, max_size=5),
       st.lists(st.integers(0, 4), min_size=1, max_size=4))
def test_converting_random_onnx_graphs(ops, shape):
    """Chains of ops on a tensor of a random static shape (0 and 1 dims included)."""
    from onnx import TensorProto, helper, numpy_helper
    import numpy as np

    nodes, inits, current = [], [], "x"
    for index, op in enumerate(ops):
        out = f"t{index}"
        if op in ("Add", "Mul", "MatMul"):
            other = np.ones([shape[-1]] * (2 if op == "MatMul" else 1), np.float32)
            inits.append(numpy_helper.from_array(other, f"c{index}"))
            nodes.append(helper.make_node(op, [current, f"c{index}"], [out], name=f"n{index}"))
        elif op == "Reshape":
            inits.append(numpy_helper.from_array(np.array([-1], np.int64), f"c{index}"))
            nodes.append(helper.make_node(op, [current, f"c{index}"], [out], name=f"n{index}"))
        else:
            nodes.append(helper.make_node(op, [current], [out], name=f"n{index}"))
        current = out
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(current, TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    convert_bytes(model.SerializeToString(), "model.onnx")


# -- the IR validator -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def valid_ir(tmp_path_factory) -> tuple[bytes, bytes]:
    xml = write_conv_relu_ir(tmp_path_factory.mktemp("ir") / "net.xml", *conv_weights())
    return xml.read_bytes(), xml.with_suffix(".bin").read_bytes()


@given(data=st.data(), which=st.sampled_from(["xml", "bin", "both"]))
def test_validating_mutated_ir(valid_ir, data, which):
    xml, bin_ = valid_ir
    if which in ("xml", "both"):
        xml = data.draw(mutated(xml))
    if which in ("bin", "both"):
        bin_ = data.draw(mutated(bin_))
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "net.xml").write_bytes(xml)
        (Path(folder) / "net.bin").write_bytes(bin_)
        problems = validate_ir(Path(folder) / "net.xml")
        assert isinstance(problems, list) and all(isinstance(p, str) for p in problems)
