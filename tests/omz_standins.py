"""A local mirror of some of Open Model Zoo's public models, for the model.yml tests.

tests/data/omz/public/NAME/model.yml are Open Model Zoo's own files, copied unchanged. `mirror`
does what a mirror of the model files would: it serves stand-in files on a loopback server and
rewrites, in a copy of each yml, only `source`, `size` and `checksum` of its files. A stand-in
is a small model with the real one's file layout and the node names its flags refer to (the
input, the output, the archive's folder), built here with seeded weights.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import re
import tarfile
from pathlib import Path
from typing import Callable

import numpy as np

DATA = Path(__file__).parent / "data"
OMZ_MODELS = DATA / "omz" / "public"
TINY_SSD_300 = DATA / "ssd_mobilenet_v2_tiny_300.tar.gz"

# The TF classifiers: file, input name and shape, output node (as the yml names them).
TF_CLASSIFIERS = {
    "mobilenet-v2-1.0-224": ("mobilenet_v2_1.0_224_frozen.pb", "input", (1, 224, 224, 3),
                             "MobilenetV2/Predictions/Reshape_1", "Reshape"),
    "mobilenet-v1-0.25-128": ("mobilenet_v1_0.25_128_frozen.pb", "input", (1, 128, 128, 3),
                              "MobilenetV1/Predictions/Reshape_1", "Reshape"),
    "googlenet-v3": ("inception_v3_2016_08_28_frozen.pb", "input", (1, 299, 299, 3),
                     "InceptionV3/Predictions/Softmax", "Softmax"),
    "resnet-50-tf": ("resnet_v1-50.pb", "map/TensorArrayStack/TensorArrayGatherV3",
                     (1, 224, 224, 3), "softmax_tensor", "Softmax"),
}
SSD_FOLDER = "ssdlite_mobilenet_v2_coco_2018_05_09"


def classifier_graph(input_name: str, shape: tuple, output: str, last_op: str, seed: int) -> bytes:
    """A frozen GraphDef: input -> strided conv -> ReLU -> mean -> dense -> softmax [-> reshape],
    with the given input and output node names."""
    import tensorflow as tf

    v1 = tf.compat.v1
    rng = np.random.default_rng(seed)
    with tf.Graph().as_default() as graph:
        x = v1.placeholder(tf.float32, [None, *shape[1:]], name=input_name)
        kernel = tf.constant(rng.normal(0, 0.05, (3, 3, 3, 8)).astype(np.float32))
        y = tf.nn.relu(tf.nn.conv2d(x, kernel, strides=4, padding="SAME"))
        y = tf.reduce_mean(y, axis=[1, 2])
        y = tf.matmul(y, tf.constant(rng.normal(0, 0.5, (8, 10)).astype(np.float32)))
        if last_op == "Softmax":
            tf.nn.softmax(y, name=output)
        else:
            tf.reshape(tf.nn.softmax(y), [-1, 10], name=output)
    return graph.as_graph_def().SerializeToString()


def onnx_eye_model(seed: int = 5) -> bytes:
    """open-closed-eye-0001's interface: input `input.1` [1, 3, 32, 32], output `19`."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = {"w": rng.normal(0, 0.1, (4, 3, 3, 3)).astype(np.float32),
               "fc": rng.normal(0, 0.5, (4, 2)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["input.1", "w"], ["c"], strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("MatMul", ["f", "fc"], ["m"]),
             helper.make_node("Softmax", ["m"], ["19"], axis=1)]
    graph = helper.make_graph(
        nodes, "open_closed_eye",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("19", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 6
    return model.SerializeToString()


def tar_gz(members: dict[str, bytes]) -> bytes:
    """A deterministic .tar.gz of `members` (path -> bytes)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped:
        with tarfile.open(fileobj=zipped, mode="w") as tar:
            for name, data in sorted(members.items()):
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def ssd_archive() -> bytes:
    """A tiny Object Detection API export at 300x300 (the yml's input size), in the folder
    ssdlite_mobilenet_v2's yml names."""
    members = {}
    with tarfile.open(TINY_SSD_300) as tar:
        for member in tar.getmembers():
            if member.isfile():
                inner = member.name.split("/", 1)[1]
                members[f"{SSD_FOLDER}/{inner}"] = tar.extractfile(member).read()
    return tar_gz(members)


def standin_files() -> dict[str, dict[str, Callable[[], bytes]]]:
    """model name -> {file name in its yml -> how to make the stand-in's bytes}."""
    files: dict[str, dict[str, Callable[[], bytes]]] = {}
    for seed, (name, (pb, input_name, shape, output, last)) in enumerate(TF_CLASSIFIERS.items()):
        make = (lambda a=(input_name, shape, output, last, seed): classifier_graph(*a))
        if name == "resnet-50-tf":
            files[name] = {pb: make}
        else:
            archive = {"mobilenet-v2-1.0-224": "mobilenet_v2_1.0_224.tgz",
                       "mobilenet-v1-0.25-128": "mobilenet_v1_0.25_128.tgz",
                       "googlenet-v3": "googlenet-v3.tar.gz"}[name]
            files[name] = {archive: lambda pb=pb, make=make: tar_gz(
                {pb: make(), f"{Path(pb).stem}.tflite": b"not used", "README": b"stand-in"})}
    files["ssdlite_mobilenet_v2"] = {f"{SSD_FOLDER}.tar.gz": ssd_archive}
    files["open-closed-eye-0001"] = {"open-closed-eye.onnx": onnx_eye_model}
    return files


def mirror(target: Path, publish: Callable[[str, bytes], str],
           models: list[str] | None = None) -> Path:
    """Copy the ymls of `models` (default: all) to `target`/NAME/model.yml; every file that has
    a stand-in is published (`publish(path, bytes)` gives its URL, e.g. a loopback server's)
    and its source, size and checksum rewritten in the copy."""
    makers = standin_files()
    for folder in sorted(OMZ_MODELS.iterdir()):
        if models is not None and folder.name not in models:
            continue
        text = (folder / "model.yml").read_text()
        for file_name, make in makers.get(folder.name, {}).items():
            data = make()
            url = publish(f"/{folder.name}/{file_name}", data)
            text = rewrite_file_entry(text, file_name, url, len(data),
                                      hashlib.sha384(data).hexdigest())
        (target / folder.name).mkdir(parents=True, exist_ok=True)
        (target / folder.name / "model.yml").write_text(text)
    return target


def rewrite_file_entry(text: str, name: str, url: str, size: int, sha384: str) -> str:
    """`text` with the `files` entry named `name` given a new source, size and checksum; every
    other line as it was."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if re.match(rf"\s*- name: {re.escape(name)}\s*$", line))
    values = {"source": url, "size": str(size), "checksum": sha384}
    for i in range(start + 1, len(lines)):
        match = re.match(r"(\s+)(source|size|checksum):", lines[i])
        if re.match(r"\s*- ", lines[i]) or not lines[i].startswith("    "):
            break
        if match:
            lines[i] = f"{match.group(1)}{match.group(2)}: {values[match.group(2)]}\n"
    return "".join(lines)
