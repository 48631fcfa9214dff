"""The local demo zoo: small models with seeded random weights, archived as a hub would serve them.

`build_local_zoo(out_dir)` writes `out_dir/archives/*` and `out_dir/models.toml`, whose urls
are paths relative to the manifest. Archives are byte-reproducible (sorted members, zero
mtimes and owners, gzip mtime 0, fixed zip dates), so the manifest's sha256 sums are stable
and rebuilding gives the same bytes. The TensorFlow models are built in a child process (see
`modelzoo.localzoo_tf`); `python -m modelzoo.localzoo OUT_DIR` runs the whole build.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import localzoo_tf as tfzoo

MANIFEST = "models.toml"
PRECISIONS = ["FP32", "FP16"]



@dataclass(frozen=True)
class ZooModel:
    """One model of the zoo: its manifest table. `model` is the path inside the archive (a
    file, a SavedModel folder or a .meta file), whose first part is the folder archived."""

    name: str
    archive: str
    framework: str
    model: str
    description: str
    flags: dict[str, Any] = field(default_factory=dict)
    located: bool = False  # leave `framework` and `model` out: the prepare stage finds them


MODELS = [
    ZooModel("tiny-cnn-onnx", "tiny_cnn.tar.gz", "onnx", "tiny_cnn/tiny_cnn.onnx",
             "ONNX CNN: Conv, BatchNormalization, Relu, MaxPool, Dropout, Gemm, Softmax",
             located=True),
    ZooModel("squeezenet-light-onnx", "squeezenet_light.zip", "onnx",
             "squeezenet_light/squeezenet.onnx", "The onnx wheel's light SqueezeNet 1.0",
             {"input_shape": [1, 3, 224, 224],
              "mean_values": {"data_0": [123.675, 116.28, 103.53]},
              "scale_values": {"data_0": [58.395, 57.12, 57.375]}}),
    ZooModel("mobilenet-v2-0.35-96-tf", "mobilenet_v2_0.35_96.tar.gz", "tf",
             f"{tfzoo.MOBILENET_DIR}/frozen_graph.pb", "Keras MobileNetV2 frozen to a GraphDef",
             {"input_shape": [1, 96, 96, 3], "mean_values": [127.5, 127.5, 127.5],
              "scale_values": [127.5, 127.5, 127.5], "reverse_input_channels": True}),
    ZooModel("small-cnn-savedmodel", "small_cnn_savedmodel.tar.gz", "tf", tfzoo.SAVED_MODEL_DIR,
             "Small Keras CNN as a TF2 SavedModel", {"input_shape": [1, 32, 32, 3]},
             located=True),
    ZooModel("tf1-cnn-checkpoint", "tf1_cnn_checkpoint.tgz", "tf",
             f"{tfzoo.CHECKPOINT_DIR}/model.ckpt.meta",
             "TF1 graph saved as a checkpoint and meta graph", {"output": "prob"}, located=True),
]


# Archives taken as they are from the project's test data: real exports no seed could rebuild
# here (the Object Detection API is not a dependency). The manifest gives only what a user
# would: url, checksum and the one flag the seed's exercise needs.
TEST_DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
PREBUILT = [
    ("ssd-mobilenet-v2-tiny-voc", "ssd_mobilenet_v2_tiny_voc.tar.gz",
     "TF Object Detection API SSD MobileNet V2 (20 classes, 256x256), frozen graph and "
     "pipeline.config as the detection zoo ships them", {"reverse_input_channels": True}),
]


def build_local_zoo(out_dir: str | os.PathLike, seed: int = 0) -> Path:
    """Build every model, archive it under `out_dir/archives`, write and return the manifest."""
    out_dir = Path(out_dir)
    (out_dir / "archives").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".staging-", dir=out_dir) as staging:
        staging = Path(staging)
        build_tiny_cnn(staging / "tiny_cnn", seed)
        build_squeezenet(staging / "squeezenet_light", seed)
        _build_tf_models(staging, seed)
        entries = [_archive_model(staging, out_dir, model) for model in MODELS]
    entries += [_prebuilt_entry(out_dir, *model) for model in PREBUILT]
    manifest = out_dir / MANIFEST
    _write_atomically(manifest, render_manifest(entries).encode())
    return manifest


# -- ONNX models -------------------------------------------------------------------------------
def _he_normal(rng: np.random.Generator, shape: list[int]) -> np.ndarray:
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else int(shape[0])
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(np.float32)


def _save_onnx(model, path: Path) -> None:
    import onnx

    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString(deterministic=True))


def build_tiny_cnn(out_dir: Path, seed: int) -> None:
    """(a) Conv/BatchNormalization/Relu/MaxPool twice, then pooling, Dropout, Gemm, Softmax."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, weights = [], {}
    channels, x = 3, "data"
    for i, width in enumerate((8, 16), start=1):
        weights[f"conv{i}_w"] = _he_normal(rng, [width, channels, 3, 3])
        weights[f"conv{i}_b"] = rng.normal(0, 0.1, width).astype(np.float32)
        for key, low, high in (("gamma", 0.5, 1.5), ("beta", -0.1, 0.1), ("mean", -0.1, 0.1),
                               ("var", 0.5, 1.5)):
            weights[f"bn{i}_{key}"] = rng.uniform(low, high, width).astype(np.float32)
        nodes += [
            helper.make_node("Conv", [x, f"conv{i}_w", f"conv{i}_b"], [f"conv{i}"],
                             kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            helper.make_node("BatchNormalization", [f"conv{i}"] + [f"bn{i}_{k}" for k in
                             ("gamma", "beta", "mean", "var")], [f"bn{i}"], epsilon=1e-5),
            helper.make_node("Relu", [f"bn{i}"], [f"relu{i}"]),
            helper.make_node("MaxPool", [f"relu{i}"], [f"pool{i}"], kernel_shape=[2, 2], strides=[2, 2]),
        ]
        channels, x = width, f"pool{i}"
    weights["fc_w"] = _he_normal(rng, [10, channels])
    weights["fc_b"] = rng.normal(0, 0.1, 10).astype(np.float32)
    nodes += [
        helper.make_node("GlobalAveragePool", [x], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"], axis=1),
        helper.make_node("Dropout", ["flat"], ["dropped"]),
        helper.make_node("Gemm", ["dropped", "fc_w", "fc_b"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["softmax"], axis=1),
        helper.make_node("Identity", ["softmax"], ["prob"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_cnn",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 10])],
        [numpy_helper.from_array(value, name) for name, value in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="modelzoo.localzoo")
    model.ir_version = 8
    _save_onnx(model, out_dir / "tiny_cnn.onnx")


def build_squeezenet(out_dir: Path, seed: int) -> None:
    """(b) The onnx wheel's light SqueezeNet, its ConstantOfShape weights made real and random."""
    import onnx
    from onnx import numpy_helper

    source = Path(onnx.__file__).parent / "backend/test/data/light/light_squeezenet.onnx"
    model = onnx.load(str(source))
    graph = model.graph
    rng = np.random.default_rng(seed + 10)
    shapes = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    weights = {}
    for node in graph.node:
        if node.op_type == "ConstantOfShape":
            weights[node.output[0]] = [int(d) for d in shapes[node.input[0]]]
    for tensor in graph.initializer:
        if tensor.data_type == onnx.TensorProto.FLOAT:
            weights[tensor.name] = list(tensor.dims)
    initializers = [numpy_helper.from_array(_random_weight(rng, shape), name)
                    for name, shape in sorted(weights.items())]
    kept_nodes = [n for n in graph.node if n.op_type != "ConstantOfShape"]
    kept_inputs = [i for i in graph.input if i.name not in shapes and i.name not in weights]
    for field, values in ((graph.node, kept_nodes), (graph.input, kept_inputs),
                          (graph.initializer, initializers)):
        del field[:]
        field.extend(values)
    model.ir_version = 4  # from IR 4 on, initializers need not be listed as graph inputs
    _save_onnx(model, out_dir / "squeezenet.onnx")


def _random_weight(rng: np.random.Generator, shape: list[int]) -> np.ndarray:
    if len(shape) > 1:
        return _he_normal(rng, shape)
    return rng.normal(0.0, 0.05, shape).astype(np.float32)


# -- TensorFlow models -------------------------------------------------------------------------
def _build_tf_models(staging: Path, seed: int) -> None:
    """Run `modelzoo.localzoo_tf` in a fresh interpreter: TF's name counters start at zero."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0", CUDA_VISIBLE_DEVICES="")
    package_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-m", "modelzoo.localzoo_tf", str(staging), str(seed)],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"building the TensorFlow models of the local zoo failed:\n"
                           f"{done.stderr[-4000:]}")


# -- archives and manifest ---------------------------------------------------------------------
def _archive_model(staging: Path, out_dir: Path, model: ZooModel) -> dict[str, Any]:
    folder = model.model.split("/")[0]
    pack = zip_bytes if model.archive.endswith(".zip") else tar_gz_bytes
    data = pack(staging, folder)
    _write_atomically(out_dir / "archives" / model.archive, data)
    where = {} if model.located else {"framework": model.framework, "model": model.model}
    return {"name": model.name, "description": model.description,
            "url": f"archives/{model.archive}", "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data), **where, "precisions": PRECISIONS, **model.flags}


def _prebuilt_entry(out_dir: Path, name: str, archive: str, description: str,
                    flags: dict[str, Any]) -> dict[str, Any]:
    source = TEST_DATA / archive
    if not source.is_file():
        raise FileNotFoundError(f"{source}: the local zoo takes this archive from the project's "
                                f"test data; run from a checkout of the project")
    data = source.read_bytes()
    _write_atomically(out_dir / "archives" / archive, data)
    return {"name": name, "description": description, "url": f"archives/{archive}",
            "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "precisions": PRECISIONS,
            **flags}


def _members(staging: Path, folder: str) -> list[tuple[str, Path]]:
    """(archive name, file) of every file and folder under `folder`, in sorted order."""
    root = staging / folder
    paths = [root] + sorted(root.rglob("*"))
    return [(p.relative_to(staging).as_posix(), p) for p in paths]


def tar_gz_bytes(staging: Path, folder: str) -> bytes:
    """A .tar.gz of `folder` that depends only on the files' names and contents."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, path in _members(staging, folder):
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if path.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.mode, info.size = 0o644, path.stat().st_size
                with open(path, "rb") as f:
                    tar.addfile(info, f)
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def zip_bytes(staging: Path, folder: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, path in _members(staging, folder):
            if path.is_dir():
                continue
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            info.create_system = 3  # unix, whatever the platform
            archive.writestr(info, path.read_bytes())
    return out.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string of plain text is a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} in TOML")


def render_manifest(entries: list[dict[str, Any]]) -> str:
    """The manifest: one `["name"]` table per model (see `modelzoo.manifest`)."""
    lines = ["# The local demo zoo, written by `python -m modelzoo.localzoo`: small models with",
             "# seeded random weights. Urls are relative to this file.", ""]
    for entry in entries:
        lines.append(f"[{json.dumps(entry['name'])}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in entry.items() if key != "name"]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (1, 2) or argv[0].startswith("-"):
        print("usage: python -m modelzoo.localzoo OUT_DIR [SEED]", file=sys.stderr)
        return 2
    manifest = build_local_zoo(argv[0], int(argv[1]) if len(argv) > 1 else 0)
    print(manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
